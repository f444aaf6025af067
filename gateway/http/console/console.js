// The console's one script: confirmations before bulk actions. The pages'
// Content-Security-Policy bars inline handlers, so they live here. A form
// (or the button that submits it) says what to ask in data-confirm; "%d"
// becomes the number of deliveries ticked in a selection form.
document.addEventListener("submit", function (e) {
  var form = e.target;
  var message = (e.submitter && e.submitter.dataset.confirm) || form.dataset.confirm;
  if (!message) return;
  if (message.indexOf("%d") >= 0) {
    var ticked = form.querySelectorAll('input[name="id"]:checked').length;
    if (ticked === 0) {
      alert("Tick the deliveries first.");
      e.preventDefault();
      return;
    }
    message = message.replace("%d", ticked);
  }
  if (!confirm(message)) e.preventDefault();
});

// Pages that watch the flow (<main data-refresh="N">) reload themselves
// every N seconds, as an integration engine's dashboard does, but never
// while the operator is in the middle of something: a box ticked, a field
// or list being used, or the tab in the background.
(function () {
  var main = document.querySelector("main[data-refresh]");
  if (!main) return;
  var seconds = parseInt(main.dataset.refresh, 10);
  if (!(seconds > 0)) return;
  setInterval(function () {
    if (document.hidden || document.querySelector('input[type="checkbox"]:checked')) return;
    var active = document.activeElement;
    if (active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) return;
    location.reload();
  }, seconds * 1000);
})();
