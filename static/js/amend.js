// Amend: small progressive enhancements. Every form works without this script.
(function () {
  "use strict";

  var uid = 0;

  // Repeating rows (paraphrases, locality probes): add and remove without a round trip.
  function renumber(row) {
    uid += 1;
    row.querySelectorAll("[data-id]").forEach(function (input) {
      input.id = "row-" + input.getAttribute("data-id") + "-" + uid;
    });
    row.querySelectorAll("label[data-for]").forEach(function (label) {
      label.htmlFor = "row-" + label.getAttribute("data-for") + "-" + uid;
    });
  }

  function setupRepeats() {
    document.querySelectorAll("[data-remove-row]").forEach(function (button) { button.hidden = false; });
    document.querySelectorAll("[data-add-row]").forEach(function (button) {
      button.hidden = false;
      var container = document.getElementById(button.getAttribute("data-add-row"));
      var template = document.getElementById(container.getAttribute("data-repeat"));
      button.addEventListener("click", function () {
        var row = template.content.firstElementChild.cloneNode(true);
        renumber(row);
        container.appendChild(row);
        row.querySelector("input").focus();
      });
    });
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-row]");
      if (!button) { return; }
      var row = button.closest(".repeat-row");
      var container = row.parentElement;
      if (container.querySelectorAll(".repeat-row").length === 1) {
        // Keep one (empty) row so there is always somewhere to type.
        row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
        row.querySelector("input").focus();
        return;
      }
      row.remove();
      var add = document.querySelector('[data-add-row="' + container.id + '"]');
      if (add) { add.focus(); }
    });
  }

  // Live conflict check: ask the server which live facts answer this prompt differently.
  function setupConflictCheck() {
    var form = document.querySelector("form[data-conflict-check]");
    if (!form) { return; }
    var panel = document.getElementById("conflict-panel");
    var url = form.getAttribute("data-conflict-check");
    var timer = null;
    var lastQuery = "";

    function modelLine() {
      var select = form.querySelector('[name="model_line"]');
      return select ? select.value : form.getAttribute("data-model-line") || "";
    }

    function check() {
      var prompt = form.querySelector('[name="prompt"]').value;
      var target = form.querySelector('[name="target"]').value;
      var line = modelLine();
      if (!line || !prompt.trim() || !target.trim()) { return; }
      var params = new URLSearchParams({ model_line: line, prompt: prompt, target: target });
      if (form.getAttribute("data-exclude")) { params.set("exclude", form.getAttribute("data-exclude")); }
      var query = params.toString();
      if (query === lastQuery) { return; }
      lastQuery = query;
      fetch(url + "?" + query, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data || query !== lastQuery) { return; }
          var chosen = form.querySelector('[name="supersedes"]:checked');
          var chosenValue = chosen ? chosen.value : "";
          panel.innerHTML = data.html;
          var again = panel.querySelector('[name="supersedes"][value="' + chosenValue + '"]');
          if (again) { again.checked = true; }
        })
        .catch(function () { /* the server-side check on submit still runs */ });
    }

    form.addEventListener("input", function (event) {
      if (!event.target.matches('[name="prompt"], [name="target"]')) { return; }
      clearTimeout(timer);
      timer = setTimeout(check, 400);
    });
    form.addEventListener("change", function (event) {
      if (event.target.matches('[name="model_line"], [name="prompt"], [name="target"]')) { check(); }
    });
    // What was typed before this script ran (a slow page, a form the browser restored) is checked too.
    check();
  }

  // Put keyboard focus on the error summary after a refused submission.
  function focusErrors() {
    var summary = document.getElementById("form-errors");
    if (summary) { summary.focus(); }
  }

  // A page showing running work ([data-live] holding a [data-live-pending]) fetches itself every few
  // seconds and swaps that block in; once nothing is pending it reloads once, to show the outcome, or,
  // for a block marked data-live-swap (answers beside a review form), swaps in the outcome without
  // reloading, so nothing typed on the page is lost. A page may hold several blocks (matched by id).
  function setupLiveProgress() {
    document.querySelectorAll("[data-live]").forEach(function (live, index) {
      if (!live.querySelector("[data-live-pending]")) { return; }
      var every = parseInt(live.getAttribute("data-live") || "3000", 10);
      function freshOf(doc) {
        return live.id ? doc.getElementById(live.id) : doc.querySelectorAll("[data-live]")[index];
      }
      function poll() {
        fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
          .then(function (response) { return response.text(); })
          .then(function (html) {
            var fresh = freshOf(new DOMParser().parseFromString(html, "text/html"));
            if (!fresh) { return; }
            var done = !fresh.querySelector("[data-live-pending]");
            if (done && !live.hasAttribute("data-live-swap")) { window.location.reload(); return; }
            // Boxes ticked meanwhile (rows to exclude in a change set's sample) stay ticked.
            var ticked = Array.prototype.map.call(live.querySelectorAll("input:checked"), function (box) { return box.id; });
            live.innerHTML = fresh.innerHTML;
            ticked.forEach(function (id) { var box = id && document.getElementById(id); if (box) { box.checked = true; } });
            if (!done) { setTimeout(poll, every); }
          })
          .catch(function () { setTimeout(poll, every * 2); });
      }
      setTimeout(poll, every);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupRepeats();
    setupConflictCheck();
    setupLiveProgress();
    focusErrors();
  });
})();
