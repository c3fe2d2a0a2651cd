// bmmsync dashboard enhancements. Written for this project; no third-party code.
// Everything works without this file: it only adds table sorting and a live text filter.
"use strict";

function cellText(row, index) {
  const cell = row.children[index];
  return cell ? cell.textContent.trim() : "";
}

function sortTable(table, index, button) {
  const body = table.tBodies[0];
  const th = button.closest("th");
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const rows = Array.from(body.rows);
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  rows.sort((a, b) => {
    const order = collator.compare(cellText(a, index), cellText(b, index));
    return ascending ? order : -order;
  });
  for (const row of rows) body.appendChild(row);
}

function enhanceSorting() {
  for (const table of document.querySelectorAll("table.sortable")) {
    if (!table.tHead || !table.tBodies[0]) continue;
    Array.from(table.tHead.rows[0].cells).forEach((th, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      button.addEventListener("click", () => sortTable(table, index, button));
      th.textContent = "";
      th.appendChild(button);
    });
  }
}

function enhanceLiveFilter() {
  for (const input of document.querySelectorAll("input[data-live-filter]")) {
    const table = document.querySelector(input.getAttribute("data-live-filter"));
    if (!table || !table.tBodies[0]) continue;
    input.addEventListener("input", () => {
      const needle = input.value.trim().toLowerCase();
      for (const row of table.tBodies[0].rows) {
        row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  enhanceSorting();
  enhanceLiveFilter();
});
