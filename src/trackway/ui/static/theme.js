// The theme chosen with the toggle, if any; otherwise CSS follows prefers-color-scheme.
(function () {
  try {
    var saved = localStorage.getItem("trackway.theme");
    if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
  } catch (e) {
    /* storage may be disabled: keep the system theme */
  }
})();
