// specengine web interface: live run progress (server-sent events) and the
// attribute form (its live preview, the option fields of the chosen metric).
// Plain DOM code, no framework, nothing fetched elsewhere.
"use strict";

function followRun(section) {
  const log = document.getElementById("log");
  const progress = document.getElementById("progress");
  const status = document.getElementById("status");
  const source = new EventSource(`/runs/${section.dataset.run}/events`);
  const line = (text) => {
    const item = document.createElement("li");
    item.textContent = text;
    log.appendChild(item);
  };
  source.addEventListener("step", (event) => {
    const data = JSON.parse(event.data);
    if (progress) { progress.max = data.total; progress.value = data.index - 1; }
    line(`${data.index}/${data.total} ${data.text}`);
  });
  source.addEventListener("log", (event) => line(JSON.parse(event.data).text));
  source.addEventListener("end", (event) => {
    const data = JSON.parse(event.data);
    source.close();
    status.textContent = data.status;
    if (progress) { progress.value = progress.max; }
    // The page then shows the outcome, the summary and the outputs.
    window.location.reload();
  });
  const cancel = document.getElementById("cancel-form");
  if (cancel) {
    cancel.addEventListener("submit", (event) => {
      event.preventDefault();
      fetch(cancel.action, { method: "POST", headers: { Accept: "application/json" } })
        .then(() => line("cancel requested"));
    });
  }
}

function livePreview(form) {
  const target = document.getElementById("attribute-preview");
  let timer = null;
  const refresh = () => {
    if (!form.elements.name.value) { return; }
    fetch(form.dataset.preview, { method: "POST", body: new FormData(form) })
      .then((answer) => answer.text())
      .then((html) => { target.innerHTML = html; });
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(refresh, 250); };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  // Choosing another metric swaps its option fields (rendered by the server from the schema).
  const metric = form.elements.metric;
  const box = document.getElementById("metric-options");
  let asked = 0;
  metric.addEventListener("change", () => {
    const mine = ++asked;
    fetch(`${box.dataset.fields}?metric=${encodeURIComponent(metric.value)}`)
      .then((answer) => answer.text())
      .then((html) => {
        if (mine !== asked) { return; }  // another metric was chosen meanwhile
        box.innerHTML = html;
        later();
      });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live && live.dataset.running === "yes") { followRun(live); }
  const attributes = document.getElementById("attribute-form");
  if (attributes) { livePreview(attributes); }
});
