// A virtual table body: of thousands of rows, only those in view (plus a margin) exist
// in the DOM; two padding rows stand in for the rest, so the scroll bar is true to size.
// Rendering a frame costs the same for 50 rows or 50,000.

export const ROW_HEIGHT = 30;
const OVERSCAN = 12;

export class VirtualRows {
  /**
   * scroller: the element that scrolls; tbody: where rows go; renderRow(item, index)
   * returns a <tr>; columns: how many cells a row has (for the padding rows).
   */
  constructor(scroller, tbody, renderRow, columns) {
    this.scroller = scroller;
    this.tbody = tbody;
    this.renderRow = renderRow;
    this.columns = columns;
    this.items = [];
    this.first = -1;
    this.last = -1;
    this.pending = false;
    this.onScroll = () => this.schedule();
    scroller.addEventListener("scroll", this.onScroll, { passive: true });
    this.resizer = new ResizeObserver(() => this.schedule());
    this.resizer.observe(scroller);
  }

  setColumns(columns) {
    this.columns = columns;
  }

  /** New rows (or the same rows changed): redraws what is in view. */
  setItems(items) {
    this.items = items;
    this.first = -1;
    this.draw();
  }

  /** Redraws the rows in view, e.g. after a selection change. */
  refresh() {
    this.first = -1;
    this.draw();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const count = this.items.length;
    const height = this.scroller.clientHeight || 600;
    const top = Math.max(0, this.scroller.scrollTop - ROW_HEIGHT);
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(count, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    if (first === this.first && last === this.last) return;
    // Keep the focused row's element when it stays in view, so keyboard focus survives.
    const focused = this.tbody.contains(document.activeElement) ? document.activeElement : null;
    this.first = first;
    this.last = last;
    const rows = [pad(first * ROW_HEIGHT, this.columns)];
    for (let i = first; i < last; i += 1) rows.push(this.renderRow(this.items[i], i));
    rows.push(pad((count - last) * ROW_HEIGHT, this.columns));
    this.tbody.replaceChildren(...rows);
    if (focused && focused.dataset.focusKey) {
      const again = this.tbody.querySelector(`[data-focus-key="${CSS.escape(focused.dataset.focusKey)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
  }

  /** Scrolls so that row `index` is in view. */
  reveal(index) {
    const top = index * ROW_HEIGHT;
    const view = this.scroller.clientHeight - 2 * ROW_HEIGHT;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top > this.scroller.scrollTop + view) this.scroller.scrollTop = top - view;
    this.draw();
  }

  destroy() {
    this.scroller.removeEventListener("scroll", this.onScroll);
    this.resizer.disconnect();
  }
}

function pad(height, columns) {
  const tr = document.createElement("tr");
  tr.setAttribute("aria-hidden", "true");
  const td = document.createElement("td");
  td.className = "pad";
  td.colSpan = columns;
  td.style.height = `${height}px`;
  tr.appendChild(td);
  return tr;
}
