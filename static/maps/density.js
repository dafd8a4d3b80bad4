/* Dossier density page: reads the filters, fetches
   /api/v1/analytics/density/ and draws the cells or communes coloured by
   the quantile classes the API computed, with a legend. */
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
  var layer = null;
  var fitted = false;
  var controller = null;
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
    if (controller) { controller.abort(); }
    controller = new AbortController();
    errorBox.hidden = true;
    statusBox.textContent = text.loading;
    mapBox.setAttribute("aria-busy", "true");
    fetch(config.apiUrl + "?" + query().toString(), {
      credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller.signal
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      mapBox.setAttribute("aria-busy", "false");
      if (!result.ok) { statusBox.textContent = ""; showErrors(result.body); return; }
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
    }).catch(function (error) {
      if (error.name === "AbortError") { return; }
      mapBox.setAttribute("aria-busy", "false");
      statusBox.textContent = "";
      showErrors(null);
    });
  }

  form.addEventListener("change", update);
  form.addEventListener("submit", function (event) { event.preventDefault(); update(); });
  update();
})();
