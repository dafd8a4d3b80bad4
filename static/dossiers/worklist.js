/* Worklist: filters apply as soon as they change, and an action button
 * cannot be pressed twice while its form is on its way. The page works
 * without this script. */
(function () {
  "use strict";

  const filters = document.getElementById("worklist-filters");
  if (filters) {
    filters.querySelectorAll("select").forEach((select) => select.addEventListener("change", () => filters.submit()));
  }

  document.querySelectorAll("form.action-form").forEach((form) => {
    form.addEventListener("submit", () => {
      const button = form.querySelector('button[type="submit"]');
      // After the submit has started, so the button's own value is still sent.
      window.setTimeout(() => {
        if (button) {
          button.disabled = true;
        }
      }, 0);
    });
  });
})();
