// Links from a mesh page into Airflow's own pages (a DAG's grid, a task instance).
//
// Airflow 3.3 shows the mesh pages in an iframe sandboxed with "allow-scripts allow-same-origin allow-forms
// allow-downloads": no allow-top-navigation, so a plain target=_top link, window.top.location and
// window.parent.location.assign() are all refused ("Unsafe attempt to initiate navigation"). The frame is
// same-origin with Airflow, so its script may use the parent's own History API: push the URL there and tell
// Airflow's router, by the popstate event its back button also fires, to show that page. Airflow's page
// changes in place (no reload) and the mesh iframe goes away with the plugin route.
// A mesh page opened at its own URL (no Airflow around it) keeps ordinary links.
"use strict";
function airflowWindow() {
  try {
    const p = window.parent;
    if (p !== window && p.location.origin === window.location.origin && p.history) return p;
  } catch (e) { /* a cross-origin parent: not Airflow's page */ }
  return null;
}
function openInAirflow(url) {
  const p = airflowWindow();
  if (!p) { window.location.assign(url); return; }
  const idx = ((p.history.state && p.history.state.idx) ?? 0) + 1;  // the entry shape React Router pushes
  p.history.pushState({ usr: null, key: Math.random().toString(36).slice(2, 10), idx }, "", url);
  p.dispatchEvent(new p.PopStateEvent("popstate", { state: p.history.state }));
}
// <a href="/dags/x" data-airflow>: a plain click opens Airflow's page; modified clicks keep the browser's way.
document.addEventListener("click", ev => {
  const a = ev.target instanceof Element ? ev.target.closest("a[data-airflow]") : null;
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  if (!airflowWindow()) return;
  ev.preventDefault();
  openInAirflow(a.href);
});
// Airflow's path of a DAG's grid or of one task instance, each part encoded (run ids hold ':' and '+').
function airflowPath(base, dagId, runId, taskId) {
  let path = `${base}/dags/${encodeURIComponent(dagId)}`;
  if (runId !== undefined) path += `/runs/${encodeURIComponent(runId)}`;
  if (taskId !== undefined) path += `/tasks/${encodeURIComponent(taskId)}`;
  return path;
}
