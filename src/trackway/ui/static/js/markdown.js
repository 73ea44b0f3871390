// A small Markdown renderer that builds DOM nodes, never HTML strings: text is always a
// text node, so a note containing <script> or an onerror attribute shows as typed.
// It covers what run notes use: headings, paragraphs, emphasis, inline and fenced code,
// links (http, https, mailto and relative only), lists, block quotes, rules and tables.

import { h, safeUrl } from "./dom.js";

export function renderMarkdown(text) {
  const root = h("div", { class: "markdown" });
  const lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const fence = line.match(/^\s*(```|~~~)\s*([\w+-]*)\s*$/);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1;
      root.appendChild(h("pre", null, h("code", { text: body.join("\n") })));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (heading) {
      root.appendChild(h(`h${Math.min(6, heading[1].length + 1)}`, null, inline(heading[2])));
      i += 1;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      root.appendChild(h("hr"));
      i += 1;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const body = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*>\s?/, ""));
      const quote = renderMarkdown(body.join("\n"));
      root.appendChild(h("blockquote", null, [...quote.childNodes]));
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+/;
    if (item.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? "ol" : "ul");
      while (i < lines.length && item.test(lines[i])) {
        let content = lines[i].replace(item, "");
        i += 1;
        // Indented continuation lines belong to the item.
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !item.test(lines[i])) content += " " + lines[i++].trim();
        const task = content.match(/^\[([ xX])\]\s+(.*)$/);
        if (task) {
          list.appendChild(h("li", null, h("input", { type: "checkbox", checked: task[1] !== " ", disabled: true }), " ", inline(task[2])));
        } else {
          list.appendChild(h("li", null, inline(content)));
        }
      }
      root.appendChild(list);
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/.test(lines[i + 1])) {
      const cells = (row) => row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
      const head = cells(line);
      i += 2;
      const body = [];
      while (i < lines.length && lines[i].includes("|") && lines[i].trim()) body.push(cells(lines[i++]));
      root.appendChild(
        h(
          "table",
          null,
          h("thead", null, h("tr", null, head.map((c) => h("th", null, inline(c))))),
          h("tbody", null, body.map((r) => h("tr", null, r.map((c) => h("td", null, inline(c)))))),
        ),
      );
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^(#{1,6}\s|\s*```|\s*~~~|\s*>|\s*([-*+]|\d+[.)])\s+)/.test(lines[i])) {
      para.push(lines[i++]);
    }
    if (!para.length) para.push(lines[i++]);
    const p = h("p");
    para.forEach((text, n) => {
      if (n) p.appendChild(text.endsWith("  ") || para[n - 1].endsWith("  ") ? h("br") : document.createTextNode(" "));
      p.append(...inline(text.trimEnd()));
    });
    root.appendChild(p);
  }
  return root;
}

// Inline spans: `code`, **strong**, *em* / _em_, ~~del~~, [text](url), <url>, bare URLs.
const INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|\*([^*\s][^*]*?)\*|\b_([^_\s][^_]*?)_\b|~~([\s\S]+?)~~|\[([^\]]*)\]\(\s*([^)\s]+)(?:\s+"[^"]*")?\s*\)|<(https?:\/\/[^>\s]+)>|(https?:\/\/[^\s<]+[^\s<.,;:!?)\]'"])/;

function inline(text) {
  const out = [];
  let rest = text;
  while (rest) {
    const m = rest.match(INLINE);
    if (!m) {
      out.push(document.createTextNode(rest));
      break;
    }
    if (m.index) out.push(document.createTextNode(rest.slice(0, m.index)));
    if (m[1]) out.push(h("code", { text: m[2].trim() || m[2] }));
    else if (m[3] !== undefined || m[4] !== undefined) out.push(h("strong", null, inline(m[3] ?? m[4])));
    else if (m[5] !== undefined || m[6] !== undefined) out.push(h("em", null, inline(m[5] ?? m[6])));
    else if (m[7] !== undefined) out.push(h("del", null, inline(m[7])));
    else if (m[9] !== undefined) out.push(link(m[9], inline(m[8])));
    else out.push(link(m[10] || m[11], [m[10] || m[11]]));
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

function link(url, children) {
  const href = safeUrl(url);
  const external = /^https?:/i.test(href);
  return h("a", { href, rel: external ? "noopener noreferrer nofollow" : undefined, target: external ? "_blank" : undefined }, children);
}
