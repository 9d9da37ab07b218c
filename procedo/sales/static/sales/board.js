// Drag a deal card onto another stage's column: the same POST the arrow buttons send.
(function () {
  "use strict";
  let dragged = null;

  function token(deal, stage) {
    const holder = document.getElementById("board-token");
    return (holder ? holder.dataset.token : String(Date.now())) + "-" + deal + "-" + stage + "-drag";
  }

  document.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".deal-card");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.deal);
  });

  // The move is sent once the drag has ended: swapping the board while the browser still
  // holds the dragged card (at drop time) leaves the drag unfinished, and no later drag starts.
  let pending = null;

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    document.querySelectorAll(".column.over").forEach(function (c) { c.classList.remove("over"); });
    dragged = null;
    if (!pending) return;
    const move = pending;
    pending = null;
    window.htmx.ajax("POST", move.url, {
      source: move.column,
      target: "#board",
      swap: "outerHTML",
      values: move.values,
    });
  });

  document.addEventListener("dragover", function (event) {
    const column = event.target.closest && event.target.closest(".column[data-stage]");
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.add("over");
  });

  document.addEventListener("dragleave", function (event) {
    const column = event.target.closest && event.target.closest(".column[data-stage]");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("over");
  });

  document.addEventListener("drop", function (event) {
    const column = event.target.closest && event.target.closest(".column[data-stage]");
    if (!column || !dragged) return;
    event.preventDefault();
    const stage = column.dataset.stage;
    if (dragged.closest(".column") === column) return;
    pending = {
      url: dragged.dataset.move,
      column: column,
      values: { stage: stage, view: "board", form_token: token(dragged.dataset.deal, stage) },
    };
  });
})();
