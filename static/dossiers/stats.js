// Charts of the indicator dashboard (/stats/). The numbers come from the
// page's JSON block (the same selector as the API); the table below the
// charts holds them too, so nothing is lost without JavaScript.
(function () {
  "use strict";

  var configNode = document.getElementById("stats-config");
  if (!configNode || typeof window.Chart === "undefined") {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var s = config.strings;
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var colours = { early: "#2e7d32", onTime: "#1565c0", late: "#c62828", received: "#37474f", online: "#ef6c00" };

  window.Chart.defaults.animation = reduceMotion ? false : window.Chart.defaults.animation;
  window.Chart.defaults.maintainAspectRatio = false;
  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  var narrow = window.matchMedia && window.matchMedia("(max-width: 40rem)").matches;

  function shorten(label) {
    // Long agency and procedure names would squeeze the bars on a phone.
    var max = narrow ? 20 : 30;
    return label.length > max ? label.slice(0, max - 1) + "…" : label;
  }

  var groups = config.groups;
  // Horizontal bars on a narrow screen or with many groups: the labels stay
  // readable; the chart then grows with the number of groups.
  var horizontal = narrow || groups.labels.length > 6;
  var groupCanvas = document.getElementById("stats-chart-groups");
  if (horizontal) {
    groupCanvas.parentNode.style.height = Math.max(288, 26 * groups.labels.length + 90) + "px";
  }
  new window.Chart(groupCanvas, {
    type: "bar",
    data: {
      labels: groups.labels.map(shorten),
      datasets: [
        { label: s.early, data: groups.early, backgroundColor: colours.early },
        { label: s.onTime, data: groups.onTime, backgroundColor: colours.onTime },
        { label: s.late, data: groups.late, backgroundColor: colours.late },
      ],
    },
    options: {
      indexAxis: horizontal ? "y" : "x",
      scales: { x: { stacked: true }, y: { stacked: true, ticks: { autoSkip: false } } },
      plugins: {
        tooltip: {
          callbacks: {
            title: function (items) {
              return items.length ? groups.labels[items[0].dataIndex] : "";
            },
          },
        },
      },
    },
  });

  var months = config.months;
  new window.Chart(document.getElementById("stats-chart-months"), {
    type: "line",
    data: {
      labels: months.labels,
      datasets: [
        {
          label: s.received,
          data: months.received,
          borderColor: colours.received,
          backgroundColor: colours.received,
          yAxisID: "y",
          tension: 0.2,
        },
        {
          label: s.onlineShare,
          data: months.onlineShare,
          borderColor: colours.online,
          backgroundColor: colours.online,
          borderDash: [6, 4],
          yAxisID: "share",
          tension: 0.2,
        },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        y: { beginAtZero: true, title: { display: !narrow, text: s.dossiers } },
        share: {
          position: "right",
          min: 0,
          max: 100,
          grid: { drawOnChartArea: false },
          title: { display: !narrow, text: s.onlineShare },
        },
      },
    },
  });
})();
