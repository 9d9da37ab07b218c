// Procedo's few page behaviours. The Content-Security-Policy allows no inline script or
// event handler, so they live here and find their elements by data attributes: one
// listener on the document serves content that htmx swaps in later too.
(function () {
  "use strict";

  // <input type="checkbox" data-check-all>: ticks or clears every checkbox in its table's body.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("input[data-check-all]");
    if (!all) return;
    all.closest("table").querySelectorAll("tbody input[type=checkbox]").forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // The SOP step form (sops/item_form.html): show the columns of the chosen kind of
  // checklist, the choices of "one of a list" fields, and the filled rows plus one empty
  // row (the "add" button shows the next one).
  document.addEventListener("change", function (event) {
    var form = event.target.closest("#item-form");
    if (!form) return;
    if (event.target.id === "id_checklist_kind") {
      form.dataset.kind = event.target.value;
    } else if (event.target.matches("select[name$='_field_type']")) {
      event.target.closest(".item-row").dataset.type = event.target.value;
    }
  });

  function syncAddButton(form) {
    var add = form.querySelector("#add-item");
    if (add) add.hidden = !form.querySelector(".item-row[hidden]");
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("#add-item");
    if (!add) return;
    var form = add.closest("#item-form");
    var next = form.querySelector(".item-row[hidden]");
    if (next) {
      next.hidden = false;
      next.querySelector("input[type=text]").focus();
    }
    syncAddButton(form);
  });

  function setUpItemForm(root) {
    var form = root.matches("#item-form") ? root : root.querySelector("#item-form");
    if (!form || !form.querySelector("#add-item")) return;
    Array.prototype.slice.call(form.querySelectorAll(".item-row.is-empty"), 1).forEach(function (row) {
      row.hidden = true;
    });
    syncAddButton(form);
  }

  // htmx.onLoad runs for the page and for every piece htmx swaps in.
  if (window.htmx) {
    window.htmx.onLoad(setUpItemForm);
  } else {
    setUpItemForm(document);
  }
})();

// orders: a line of the order form goes with its × button; the totals below then refresh
// (they listen for "lines-changed", see orders/_lines_editor.html).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var remove = event.target.closest("[data-remove-line]");
    if (!remove) return;
    var form = remove.closest("form") || document.body;
    remove.closest("tr").remove();
    form.dispatchEvent(new Event("lines-changed", { bubbles: true }));
  });
})();
