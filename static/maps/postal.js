/* Planning: the public post. Communes coloured by the share of failed
   deliveries of results sent by post (a toggle shows the median working
   days instead); parcels on their way as clustered points, loaded from the
   GeoJSON API. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("postal-config").textContent);
  var s = config.strings;
  var container = document.getElementById("postal-map");
  // maxZoom on the map itself: the parcel clusters need it, and without base
  // tiles (offline, the default) no tile layer would give one.
  var map = L.map("postal-map", { scrollWheelZoom: false, maxZoom: 19 }).setView([21.2, 106.2], 9);
  window.postalMap = map; // for the browser test
  // The shared base map: the operator's tiles if any, outlines and names (static/maps/basemap.js).
  window.PortalBaseMap.add(map);
  function esc(text) {
    var div = document.createElement("div");
    div.textContent = text === null || text === undefined ? "—" : String(text);
    return div.innerHTML;
  }
  var reds = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
  var blues = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"];
  function shade(value, top, ramp) {
    if (value === null || value === undefined) { return "#eeeeee"; }
    if (!top) { return ramp[0]; }
    return ramp[Math.min(ramp.length - 1, Math.floor((value / top) * ramp.length))];
  }
  var features = config.deliveries.features;
  function top(key) {
    return features.reduce(function (m, f) { return Math.max(m, f.properties[key] || 0); }, 0);
  }
  function communeLayer(key, ramp) {
    var highest = top(key);
    return L.geoJSON(config.deliveries, {
      style: function (f) {
        return { color: "#555", weight: 0.6, fillOpacity: 0.7, fillColor: shade(f.properties[key], highest, ramp) };
      },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindPopup(
          "<strong>" + esc(p.name) + "</strong><br>" +
          (p.ended ? esc(s.ended) + ": " + esc(p.ended) + "<br>" + esc(s.delivered) + ": " + esc(p.delivered) +
            "<br>" + esc(s.failed) + ": " + esc(p.failed) + " (" + esc((p.failure_rate * 100).toFixed(1)) + " %)" +
            "<br>" + esc(s.medianDays) + ": " + esc(p.median_working_days) : esc(s.noData))
        );
      },
    });
  }
  var failures = communeLayer("failure_rate", reds).addTo(map);
  var medians = communeLayer("median_working_days", blues);
  if (failures.getLayers().length) { map.fitBounds(failures.getBounds(), { padding: [10, 10] }); }

  var parcels = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 45 });
  parcels.addTo(map);
  L.control.layers(
    { [s.failureRate]: failures, [s.medianDays]: medians },
    { [s.inProgress]: parcels },
    { collapsed: false }
  ).addTo(map);

  fetch(config.inProgressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
    .then(function (data) {
      L.geoJSON(data, {
        pointToLayer: function (f, latlng) {
          var inbound = f.properties.leg === "inbound";
          return L.circleMarker(latlng, {
            radius: 6, weight: 1, color: "#333", fillOpacity: 0.9,
            fillColor: f.properties.failed_attempts ? "#d7301f" : (inbound ? "#2c7fb8" : "#31a354"),
          });
        },
        onEachFeature: function (f, layer) {
          var p = f.properties;
          layer.bindPopup(
            "<strong>" + esc(p.leg === "inbound" ? s.inbound : s.outbound) + "</strong><br>" +
            esc(p.status_label) + " — " + esc(s.since) + " " + esc(p.status_at.slice(0, 16).replace("T", " ")) +
            "<br>" + esc(p.place_name)
          );
        },
      }).eachLayer(function (layer) { parcels.addLayer(layer); });
      container.dataset.parcels = String(data.features.length);
    })
    .catch(function () {
      container.dataset.parcels = "error";
      var note = document.createElement("p");
      note.className = "plan-errors";
      note.setAttribute("role", "alert");
      note.textContent = s.loadingFailed;
      container.insertAdjacentElement("afterend", note);
    })
    .finally(function () { container.setAttribute("aria-busy", "false"); });
})();
