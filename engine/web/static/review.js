// specengine review page: keyboard-driven decisions on the pairs of a review band.
// j / k move between pairs, a / r / s accept, reject or skip the current one. A
// decision is POSTed (JSON answer); a decided pair leaves the page.
"use strict";

function reviewQueue(queue) {
  const status = document.getElementById("review-status");
  const author = document.getElementById("author");
  const pairs = () => Array.from(queue.querySelectorAll("section.pair"));
  let current = 0;
  const focus = (index) => {
    const all = pairs();
    if (!all.length) {
      status.textContent += " Nothing left to review.";
      return;
    }
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((pair, k) => pair.classList.toggle("current", k === current));
    all[current].focus();
  };
  const decide = (pair, decision) => {
    const body = new FormData();
    body.append("subject", pair.dataset.subject);
    body.append("object", pair.dataset.object);
    body.append("decision", decision);
    body.append("author", author.value);
    fetch(queue.dataset.action, {
      method: "POST", body, headers: { Accept: "application/json" },
    }).then((answer) => answer.json().then((data) => {
      status.textContent = data.left === undefined ? data.message : `${data.message} (${data.left} left)`;
      const index = pairs().indexOf(pair);
      if (decision === "skip") {
        pair.classList.add("skipped");
        focus(index + 1);
      } else if (answer.ok || answer.status === 409) {
        // Decided (here or in another tab): the pair leaves the queue.
        pair.remove();
        focus(index);
      }
    }));
  };
  queue.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = event.submitter;
    decide(event.target.closest("section.pair"), button ? button.value : "skip");
  });
  queue.addEventListener("focusin", (event) => {
    const pair = event.target.closest("section.pair");
    if (pair) {
      current = pairs().indexOf(pair);
      pairs().forEach((p) => p.classList.toggle("current", p === pair));
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.target.closest("input, textarea, select")) { return; }
    const all = pairs();
    const keys = { a: "accept", r: "reject", s: "skip" };
    if (event.key === "j") { focus(current + 1); }
    else if (event.key === "k") { focus(current - 1); }
    else if (keys[event.key] && all[current]) { decide(all[current], keys[event.key]); }
    else { return; }
    event.preventDefault();
  });
  focus(0);
}

document.addEventListener("DOMContentLoaded", () => {
  const queue = document.getElementById("queue");
  if (queue) { reviewQueue(queue); }
});
