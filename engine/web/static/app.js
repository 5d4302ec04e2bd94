// specengine web interface: live run progress (server-sent events), the
// attribute form (its live preview, the option fields of the chosen metric, the
// chain of normalisers in the order chosen) and the options of the blocking rule.
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

// The normalisers of an attribute: a list in the order chosen, each added from
// its <template> (its option fields, rendered by the server from the schema).
// Fields are named by position, normaliser.N.FIELD: renumbered on every change,
// so that the same normaliser may come twice (two regular expressions).
function normaliserChain(form) {
  const list = document.getElementById("chosen-normalisers");
  const choice = document.getElementById("normaliser-choice");
  const renumber = () => {
    Array.from(list.children).forEach((item, index) => {
      item.querySelectorAll("[name], [id]").forEach((element) => {
        for (const attribute of ["name", "id"]) {
          const key = `${attribute}Pattern`;
          if (!(key in element.dataset)) {
            if (!element.hasAttribute(attribute)) { continue; }
            element.dataset[key] = element.getAttribute(attribute);
          }
          element.setAttribute(attribute, element.dataset[key].replaceAll("__i__", String(index)));
        }
      });
    });
    form.dispatchEvent(new Event("change"));  // the live preview follows the chain
  };
  document.getElementById("normaliser-add").addEventListener("click", () => {
    const template = document.getElementById(`normaliser-template-${choice.value}`);
    list.appendChild(template.content.cloneNode(true));
    renumber();
    const field = list.lastElementChild.querySelector("input:not([type=hidden]), select");
    if (field) { field.focus(); }
  });
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) { return; }
    const item = button.closest("li");
    if (button.classList.contains("up") && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (button.classList.contains("down") && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    } else if (button.classList.contains("remove")) {
      item.remove();
    } else {
      return;
    }
    renumber();
  });
}

// The settings page shows the options of the chosen blocking rule only
// (without the script, all of them: the server reads the chosen rule's).
function blockingOptions(select) {
  const show = () => {
    document.querySelectorAll(".blocking-options").forEach((box) => {
      box.hidden = box.dataset.rule !== select.value;
    });
  };
  select.addEventListener("change", show);
  show();
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live && live.dataset.running === "yes") { followRun(live); }
  const attributes = document.getElementById("attribute-form");
  if (attributes) { livePreview(attributes); normaliserChain(attributes); }
  const blocking = document.getElementById("blocking");
  if (blocking) { blockingOptions(blocking); }
});
