// Follow Airflow's colour mode (light or dark) on the mesh pages.
//
// Airflow 3.3's UI keeps it with next-themes: the choice ("light", "dark" or "system") in localStorage under
// "theme", the resolved mode as the class "light" or "dark" on its <html>. The mesh pages are same-origin with
// Airflow, so they read the parent's class when shown in Airflow's iframe (and follow it when it changes), else
// the stored choice, else the system's preference. Loaded in <head>, before the stylesheet applies, so a dark
// page never flashes white.
"use strict";
(function () {
  const system = () => (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  function parentRoot() {
    try {
      if (window.parent !== window && window.parent.location.origin === window.location.origin) return window.parent.document.documentElement;
    } catch (e) { /* cross-origin parent: not Airflow */ }
    return null;
  }
  function mode() {
    const root = parentRoot();
    if (root && root.classList.contains("dark")) return "dark";
    if (root && root.classList.contains("light")) return "light";
    let stored = null;
    try { stored = window.localStorage.getItem("theme"); } catch (e) { /* storage refused */ }
    return stored === "dark" || stored === "light" ? stored : system();
  }
  function apply() {
    const m = mode();
    document.documentElement.dataset.theme = m;
    document.documentElement.style.colorScheme = m;
  }
  apply();
  const root = parentRoot();
  if (root) new MutationObserver(apply).observe(root, { attributes: true, attributeFilter: ["class"] });
  window.addEventListener("storage", ev => { if (ev.key === "theme") apply(); });
  if (window.matchMedia) window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply);
})();
