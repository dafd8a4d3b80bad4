/* Dossier density page: reads the filters, fetches
   /api/v1/analytics/density/ and draws the cells or communes coloured by
   the quantile classes the API computed, with a legend.

   The month slider picks the last month of a window of 1 to 12 whole
   months; moving it writes the window into the from/to date inputs (the
   only period the API sees) and reloads the map after a short pause, so
   dragging sends one request, not one per month passed. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("density-config").textContent);
  var text = config.strings;
  var form = document.getElementById("density-form");
  var statusBox = document.getElementById("density-status");
  var errorBox = document.getElementById("density-error");
  var mapBox = document.getElementById("map");
  // Yellow to dark red: readable in grey too, the darker the more dossiers.
  var COLOURS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];

  var map = L.map("map", { zoomControl: true }).setView([21.18, 106.1], 10);
  // The shared base map: the operator's tiles if any, outlines and names (static/maps/basemap.js).
  window.PortalBaseMap.add(map);
  var layer = null;
  var fitted = false;
  var controller = null;
  var latest = 0;  // number of the latest request: older answers are dropped
  var reloadTimer = null;
  var playTimer = null;
  var RELOAD_DELAY_MS = 250;
  var PLAY_STEP_MS = 1200;
  var slider = document.getElementById("f-month");
  var windowSelect = document.getElementById("f-window");
  var periodText = document.getElementById("f-month-text");
  var playButton = document.getElementById("f-play");
  var fromInput = form.elements.from;
  var toInput = form.elements.to;
  var legend = L.control({ position: "bottomright" });
  var legendBox = L.DomUtil.create("div", "density-legend");
  legend.onAdd = function () { return legendBox; };
  legend.addTo(map);

  function classOf(count, breaks) {
    for (var i = 0; i < breaks.length; i++) { if (count <= breaks[i]) { return i; } }
    return breaks.length - 1;
  }

  function colours(n) {
    // Spread the palette over however many classes there are.
    if (n <= 1) { return [COLOURS[COLOURS.length - 1]]; }
    var out = [];
    for (var i = 0; i < n; i++) { out.push(COLOURS[Math.round(i * (COLOURS.length - 1) / (n - 1))]); }
    return out;
  }

  function drawLegend(breaks, palette, lowest) {
    var html = "<strong>" + text.dossiers + "</strong><br>";
    var low = lowest;
    for (var i = 0; i < breaks.length; i++) {
      var range = low === breaks[i] ? String(low) : low + "–" + breaks[i];
      html += '<span><i style="background:' + palette[i] + '"></i>' + range + "</span><br>";
      low = breaks[i] + 1;
    }
    legendBox.innerHTML = breaks.length ? html : text.noData;
  }

  function query() {
    var params = new URLSearchParams();
    var data = new FormData(form);
    data.forEach(function (value, key) { if (value !== "") { params.set(key, value); } });
    var cell = form.elements.cell;
    var era = cell.options[cell.selectedIndex].getAttribute("data-era");
    if (era) { params.set("era", era); params.delete("res"); }
    form.elements.res.disabled = Boolean(era);
    return params;
  }

  function popup(props) {
    var name = props.name ? props.name + " (" + props.code + ")" : props.cell;
    var html = "<strong>" + name + "</strong><br>" + props.count + " " + text.dossiers;
    if (props.rate_per_1000 !== undefined && props.rate_per_1000 !== null) {
      html += "<br>" + props.rate_per_1000 + " " + text.perThousand;
    }
    return html;
  }

  function showErrors(body) {
    var lines = [];
    if (body && typeof body === "object") {
      Object.keys(body).forEach(function (key) { lines.push(key + ": " + [].concat(body[key]).join(" ")); });
    }
    errorBox.textContent = lines.length ? lines.join("\n") : text.failed;
    errorBox.hidden = false;
  }

  function update() {
    clearTimeout(reloadTimer);
    if (controller) { controller.abort(); }
    controller = new AbortController();
    var number = ++latest;
    errorBox.hidden = true;
    statusBox.textContent = text.loading;
    mapBox.setAttribute("aria-busy", "true");
    var asked = query();
    var htmlLink = document.getElementById("density-html");
    if (htmlLink) { asked.set("format", "html"); htmlLink.href = config.apiUrl + "?" + asked.toString(); asked.delete("format"); }
    fetch(config.apiUrl + "?" + asked.toString(), {
      credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller.signal
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (number !== latest) { return; }
      mapBox.setAttribute("aria-busy", "false");
      if (!result.ok) { stopPlaying(); statusBox.textContent = ""; showErrors(result.body); return; }
      var collection = result.body;
      var breaks = collection.classes.breaks;
      var palette = colours(breaks.length);
      if (layer) { map.removeLayer(layer); }
      layer = L.geoJSON(collection, {
        style: function (feature) {
          var count = feature.properties.count;
          return {
            color: "#555", weight: 0.6, fillOpacity: count ? 0.75 : 0.15,
            fillColor: count ? palette[classOf(count, breaks)] : "#ffffff"
          };
        },
        onEachFeature: function (feature, shape) { shape.bindPopup(popup(feature.properties)); }
      }).addTo(map);
      var total = 0;
      var lowest = Infinity;
      collection.features.forEach(function (f) {
        total += f.properties.count;
        lowest = Math.min(lowest, f.properties.count);
      });
      statusBox.textContent = text.shown.replace("%(areas)s", collection.features.length)
        .replace("%(dossiers)s", total.toLocaleString());
      mapBox.setAttribute("data-features", String(collection.features.length));
      mapBox.setAttribute("data-total", String(total));
      drawLegend(breaks, palette, lowest === Infinity ? 0 : lowest);
      if (!fitted && collection.features.length) { map.fitBounds(layer.getBounds()); fitted = true; }
      if (playTimer !== null) { clearTimeout(playTimer); playTimer = setTimeout(playStep, PLAY_STEP_MS); }
    }).catch(function (error) {
      if (error.name === "AbortError" || number !== latest) { return; }
      stopPlaying();
      mapBox.setAttribute("aria-busy", "false");
      statusBox.textContent = "";
      showErrors(null);
    });
  }

  // --- the period: months are counted as year * 12 + month - 1 -------------------------

  function monthIndex(value) {  // "2026-01" or "2026-01-31"
    return Number(value.slice(0, 4)) * 12 + Number(value.slice(5, 7)) - 1;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function isoDay(index, day) { return Math.floor(index / 12) + "-" + pad(index % 12 + 1) + "-" + pad(day); }

  function monthWords(index) { return pad(index % 12 + 1) + "/" + Math.floor(index / 12); }

  function dayWords(iso) { return iso.slice(8, 10) + "/" + iso.slice(5, 7) + "/" + iso.slice(0, 4); }

  function daysIn(index) { return new Date(Date.UTC(Math.floor(index / 12), index % 12 + 1, 0)).getUTCDate(); }

  var firstMonth = monthIndex(config.firstMonth);

  function showPeriod(words) {
    periodText.textContent = words;
    slider.setAttribute("aria-valuetext", words);
  }

  function windowMonths() { return Number(windowSelect.value) || config.window; }

  // The slider's window into the date inputs: first day of its first month
  // to the last day of its last month, but never after today.
  function applySlider() {
    var last = firstMonth + Number(slider.value);
    var first = last - windowMonths() + 1;
    var end = isoDay(last, daysIn(last));
    fromInput.value = isoDay(first, 1);
    toInput.value = end > config.today ? config.today : end;
    showPeriod(first === last ? monthWords(last) : monthWords(first) + " – " + monthWords(last));
  }

  function reloadSoon() {
    mapBox.setAttribute("aria-busy", "true");  // the map no longer shows the period chosen
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(update, RELOAD_DELAY_MS);
  }

  // Dates typed by hand: the slider follows their last month, the label
  // shows the days as typed.
  function followDates() {
    if (!fromInput.value || !toInput.value) { return; }
    var step = monthIndex(toInput.value) - firstMonth;
    slider.value = String(Math.max(0, Math.min(Number(slider.max), step)));
    showPeriod(dayWords(fromInput.value) + " – " + dayWords(toInput.value));
  }

  function stopPlaying() {
    if (playTimer === null) { return; }
    clearTimeout(playTimer);
    playTimer = null;
    playButton.setAttribute("data-playing", "false");
    playButton.textContent = text.play;
  }

  // One month on, once the map of the previous month is drawn (update()
  // schedules the next step), so a slow answer is never skipped.
  function playStep() {
    if (Number(slider.value) >= Number(slider.max)) { stopPlaying(); return; }
    slider.value = String(Number(slider.value) + 1);
    applySlider();
    update();
  }

  playButton.addEventListener("click", function () {
    if (playTimer !== null) { stopPlaying(); return; }
    // The button reads "Pause" while playing (a toggle whose name changes
    // must not also be aria-pressed). The next step waits for the map.
    playTimer = 0;
    playButton.setAttribute("data-playing", "true");
    playButton.textContent = text.pause;
    if (Number(slider.value) >= Number(slider.max)) { slider.value = "0"; }
    applySlider();
    update();
  });

  slider.addEventListener("input", function () { stopPlaying(); applySlider(); reloadSoon(); });
  windowSelect.addEventListener("change", function () { applySlider(); reloadSoon(); });

  form.addEventListener("change", function (event) {
    // The period controls reload through reloadSoon(); a range input also
    // fires "change" when released, which must not send a second request.
    if (event.target === slider || event.target === windowSelect) { return; }
    if (event.target === fromInput || event.target === toInput) { stopPlaying(); followDates(); }
    update();
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); update(); });
  update();
})();
