// A background job's page (templates/jobs/show.html): asks the job's status every second and
// shows what changed in the live region (announced by screen readers), until it is finished.
(function () {
  "use strict";
  var region = document.getElementById("job-status");
  if (!region || region.dataset.finished === "yes") {
    return;
  }
  var fallback = document.querySelector(".no-js-only");
  if (fallback) {
    fallback.hidden = true;
  }
  var shown = "";
  function poll() {
    fetch(region.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (state) {
        // Only a change is written, so a screen reader does not repeat the same sentence.
        if (state.html !== shown) {
          shown = state.html;
          region.innerHTML = state.html; // rendered and escaped by the server's template
        }
        if (!state.finished) {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 500);
})();
