/* Planning: service point load map. Points sized and coloured by dossiers
   received per counter per working day, overloaded ones outlined in red;
   communes coloured by 2SFCA accessibility as a toggle layer. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("load-config").textContent);
  var s = config.strings;
  var map = L.map("load-map", { scrollWheelZoom: false }).setView([21.2, 106.2], 9);
  // A base map only where the deployment configures one (no external host by default).
  if (config.tiles) {
    L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: 19 }).addTo(map);
  }

  var features = config.load.features;
  var max = 0;
  features.forEach(function (f) { max = Math.max(max, f.properties.received_per_counter_per_day || 0); });
  var ramp = ["#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026"];
  function colour(value, top) {
    if (!top || value === null || value === undefined) { return "#cccccc"; }
    return ramp[Math.min(ramp.length - 1, Math.floor((value / top) * ramp.length))];
  }
  function esc(text) {
    var div = document.createElement("div");
    div.textContent = text === null || text === undefined ? "—" : String(text);
    return div.innerHTML;
  }

  var pointsLayer = L.geoJSON(config.load, {
    pointToLayer: function (f, latlng) {
      var p = f.properties;
      var value = p.received_per_counter_per_day || 0;
      return L.circleMarker(latlng, {
        radius: 4 + (max ? 14 * Math.sqrt(value / max) : 0),
        fillColor: colour(value, max),
        fillOpacity: 0.85,
        color: p.overloaded ? "#b00000" : "#555",
        weight: p.overloaded ? 3 : 1,
      });
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindPopup(
        "<strong>" + esc(p.name) + "</strong>" + (p.overloaded ? " — " + esc(s.overloaded) : "") +
        "<br>" + esc(s.counters) + ": " + esc(p.counters) +
        "<br>" + esc(s.received) + ": " + esc(p.received) +
        "<br>" + esc(s.perCounterDay) + ": " + esc(p.received_per_counter_per_day) +
        "<br>" + esc(s.openQueue) + ": " + esc(p.open_queue) +
        "<br>" + esc(s.lateShare) + ": " + (p.late_share === null ? "—" : esc((p.late_share * 100).toFixed(1) + " %"))
      );
    },
  }).addTo(map);
  if (features.length) { map.fitBounds(pointsLayer.getBounds(), { padding: [20, 20] }); }

  var accessLayer = L.layerGroup();
  var control = L.control.layers(null, {}, { collapsed: false }).addTo(map);
  control.addOverlay(pointsLayer, esc(s.received));
  control.addOverlay(accessLayer, esc(s.accessibility));

  var loaded = false;
  map.on("overlayadd", function (event) {
    if (event.layer !== accessLayer || loaded) { return; }
    loaded = true;
    fetch(config.accessibilityUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        var values = data.features
          .map(function (f) { return f.properties.accessibility; })
          .filter(function (v) { return v !== null; })
          .sort(function (a, b) { return a - b; });
        var breaks = [0.2, 0.4, 0.6, 0.8].map(function (q) {
          return values.length ? values[Math.floor(q * (values.length - 1))] : 0;
        });
        var greens = ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"];
        function fill(v) {
          if (v === null) { return "#dddddd"; }
          var i = 0;
          while (i < breaks.length && v > breaks[i]) { i += 1; }
          return greens[i];
        }
        L.geoJSON(data, {
          style: function (f) {
            return { fillColor: fill(f.properties.accessibility), fillOpacity: 0.6, color: "#666", weight: 0.6 };
          },
          onEachFeature: function (f, layer) {
            var p = f.properties;
            layer.bindPopup(
              "<strong>" + esc(p.name) + "</strong><br>" + esc(s.population) + ": " +
              (p.population === null ? esc(s.unknown) : esc(p.population)) + "<br>" + esc(s.accessibility) + ": " +
              (p.accessibility === null ? "—" : esc(p.accessibility.toFixed(2)))
            );
          },
        }).addTo(accessLayer);
        pointsLayer.bringToFront();
      })
      .catch(function () { loaded = false; window.alert(s.loadingFailed); });
  });
})();
