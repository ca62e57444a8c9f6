// The slot grids, better with JavaScript: press on a free slot and drag
// along its row to pick a range; releasing opens the booking form prefilled
// (without this script, each free slot is a link to that one slot).
(function () {
  "use strict";
  function freeLink(el) { return el && el.closest ? el.closest("td.free > a") : null; }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.slots").forEach(function (table) {
      var first = null, last = null;
      function picked() {
        // The cells from first to last in the row, stopping at one that is not free.
        var cells = Array.prototype.slice.call(first.closest("tr").children);
        var a = cells.indexOf(first.parentNode), b = cells.indexOf(last.parentNode);
        var step = a <= b ? 1 : -1, out = [cells[a]];
        for (var i = a + step; i !== b + step; i += step) {
          if (!cells[i].classList.contains("free")) break;
          out.push(cells[i]);
        }
        return step === 1 ? out : out.reverse();
      }
      function show() {
        table.querySelectorAll("td.picked").forEach(function (td) { td.classList.remove("picked"); });
        if (first) picked().forEach(function (td) { td.classList.add("picked"); });
      }
      table.addEventListener("mousedown", function (e) {
        var link = freeLink(e.target);
        if (!link || e.button !== 0) return;
        e.preventDefault();
        first = last = link;
        show();
      });
      table.addEventListener("mouseover", function (e) {
        var link = freeLink(e.target);
        if (first && link && link.closest("tr") === first.closest("tr")) { last = link; show(); }
      });
      document.addEventListener("mouseup", function () {
        if (!first) return;
        var cells = picked(), start = cells[0].firstChild, end = cells[cells.length - 1].firstChild;
        var url = new URL(start.href);
        url.searchParams.set("end", end.dataset.end);
        first = last = null;
        window.location.assign(url.toString());
      });
    });
  });
})();

// A "Copy" button copies the text of the field it names.
document.addEventListener("click", function (e) {
  "use strict";
  var button = e.target.closest ? e.target.closest("button[data-copy]") : null;
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  field.select();
  var done = function () { button.textContent = "Copied"; };
  // The older copy command where the clipboard API is missing or refused
  // (an insecure origin, a browser that asks for a permission).
  var fallback = function () {
    field.select();
    if (document.execCommand("copy")) done();
    else button.textContent = "Select and copy";
  };
  if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, fallback);
  else fallback();
});

// A "Print" button (shown only where this script runs) prints the page; the
// print style keeps the grid and drops the navigation and forms.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});
