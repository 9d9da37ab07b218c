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

  // The menu button (base.html) opens and closes the navigation on a phone; Escape closes it.
  function menuSet(button, open) {
    var nav = document.getElementById(button.getAttribute("aria-controls"));
    button.setAttribute("aria-expanded", open ? "true" : "false");
    nav.toggleAttribute("data-open", open);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".menu-toggle");
    if (button) menuSet(button, button.getAttribute("aria-expanded") !== "true");
  });

  // The header search's suggestions (home:suggest, swapped in by htmx): ArrowDown from the box
  // goes into them, ArrowUp/ArrowDown move between them, Escape closes them and returns to the
  // box; a click elsewhere closes them. Enter in the box still submits to the search page.
  function suggestClose(box) {
    var list = document.getElementById("search-suggest");
    if (list) list.replaceChildren();
    if (box) box.focus();
  }

  document.addEventListener("keydown", function (event) {
    var open = document.querySelector(".menu-toggle[aria-expanded=true]");
    if (event.key === "Escape" && open && !event.target.closest(".search")) {
      menuSet(open, false);
      open.focus();
    }
    var search = event.target.closest(".search");
    if (!search) return;
    var box = search.querySelector("input[name=q]");
    var links = Array.prototype.slice.call(search.querySelectorAll(".suggest a"));
    var at = links.indexOf(event.target);
    if (event.key === "Escape") {
      suggestClose(box);
    } else if (event.key === "ArrowDown" && links.length) {
      event.preventDefault();
      links[Math.min(at + 1, links.length - 1)].focus();
    } else if (event.key === "ArrowUp" && at >= 0) {
      event.preventDefault();
      if (at === 0) box.focus(); else links[at - 1].focus();
    }
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest(".search")) suggestClose(null);
  });

  // On a phone a table shows one card per row (app.css); each cell is labelled with its
  // column's header, copied here into data-label so templates need not repeat it. A cell that
  // spans columns, or already has a label, is left alone; a cell spanning rows (a product
  // over its SKUs) moves the next rows' cells one column on.
  function labelTable(table) {
    var headRow = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!headRow || table.classList.contains("table-scroll")) return;
    var headers = [];
    Array.prototype.forEach.call(headRow.cells, function (cell) {
      for (var i = 0; i < cell.colSpan; i++) headers.push(cell.textContent.trim());
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      var covered = [];  // per column: how many more rows a cell above still covers
      Array.prototype.forEach.call(body.rows, function (row) {
        var next = covered.map(function (rows) { return Math.max(rows - 1, 0); });
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          while (covered[column] > 0) column++;
          if (cell.tagName === "TD" && cell.colSpan === 1 && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", headers[column] || "");
          }
          for (var i = 0; i < cell.colSpan; i++) {
            if (cell.rowSpan > 1) next[column + i] = cell.rowSpan - 1;
          }
          column += cell.colSpan;
        });
        covered = next;
      });
    });
  }

  function labelTables(root) {
    var table = root.closest && root.closest("table");
    if (table) {
      labelTable(table);
    } else {
      root.querySelectorAll("table").forEach(labelTable);
    }
  }

  // htmx.onLoad runs for the page and for every piece htmx swaps in.
  if (window.htmx) {
    window.htmx.onLoad(setUpItemForm);
    window.htmx.onLoad(labelTables);
  } else {
    setUpItemForm(document);
    labelTables(document);
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

// knowledge: <button data-quick-reply="id_body" data-text="…"> puts an answer or a script into
// that reply box where the cursor is, on a line of its own; the person edits it and sends.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-quick-reply]");
    if (!button) return;
    var box = document.getElementById(button.getAttribute("data-quick-reply"));
    if (!box) return;
    var text = button.getAttribute("data-text") || "";
    var start = box.selectionStart, end = box.selectionEnd;
    var before = box.value.slice(0, start);
    if (before && !/\n\n$/.test(before)) text = (/\n$/.test(before) ? "\n" : "\n\n") + text;
    box.setRangeText(text, start, end, "end");
    box.focus();
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
