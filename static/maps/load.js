/* Planning: service point load map. Points sized and coloured by dossiers
   received per counter per working day, overloaded ones outlined in red;
   communes coloured by 2SFCA accessibility as a toggle layer. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("load-config").textContent);
  var s = config.strings;
  var map = L.map("load-map", { scrollWheelZoom: false }).setView([21.2, 106.2], 9);
  // A base map only where the deployment configures one (no external host by default).
  // The shared base map: the operator's tiles if any, outlines and names (static/maps/basemap.js).
  window.PortalBaseMap.add(map);

  var features = config.load.features;
  var max = 0;
  features.forEach(function (f) { max = Math.max(max, f.properties.received_per_counter_per_day || 0); });
  var ramp = ["#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026"];
  function colour(value, top) {
    if (!top || value === null || value === undefined) { return "#cccccc"; }
    return ramp[Math.min(ramp.length - 1, Math.floor((value / top) * ramp.length))];
  }
  function round1(value) {
    return value === null || value === undefined ? null : value.toFixed(1);
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
        "<br>" + esc(s.perCounterDay) + ": " + esc(round1(p.received_per_counter_per_day)) +
        "<br>" + esc(s.openQueue) + ": " + esc(p.open_queue) +
        "<br>" + esc(s.lateShare) + ": " + (p.late_share === null ? "—" : esc((p.late_share * 100).toFixed(1) + " %"))
      );
    },
  }).addTo(map);
  if (features.length) { map.fitBounds(pointsLayer.getBounds(), { padding: [20, 20] }); }

  // The legend: what a colour and a red outline mean, from the page's strings.
  var legend = L.control({ position: "bottomright" });
  var accessLegend = document.createElement("div");
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "plan-legend");
    div.id = "load-legend";
    var html = "<strong>" + esc(s.legendTitle) + "</strong>";
    for (var i = 0; i < ramp.length; i += 1) {
      html += "<br><i style=\"background:" + ramp[i] + "\"></i>" +
        esc(round1(max * i / ramp.length)) + " – " + esc(round1(max * (i + 1) / ramp.length));
    }
    html += "<br><i style=\"background:#cccccc\"></i>" + esc(s.legendNone);
    html += "<br><i style=\"border:3px solid #b00000;background:#fff\"></i>" + esc(s.legendOverloaded);
    div.innerHTML = html;
    div.appendChild(accessLegend);
    return div;
  };
  legend.addTo(map);

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
        var labels = [0].concat(breaks);
        var html = "<br><strong>" + esc(s.accessLegendTitle) + "</strong>";
        for (var i = 0; i < greens.length; i += 1) {
          html += "<br><i style=\"background:" + greens[i] + "\"></i>" +
            (i < breaks.length ? "≤ " + esc(breaks[i].toFixed(2)) : "> " + esc(labels[i].toFixed(2)));
        }
        html += "<br><i style=\"background:#dddddd\"></i>" + esc(s.accessNoData);
        accessLegend.innerHTML = html;
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
