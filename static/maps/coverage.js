/* Coverage planning page: communes coloured by coverage share, service
   points with their buffers, catchments and suggested sites. Everything
   comes from the public APIs named in the page config. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("coverage-config").textContent);
  var S = config.strings;
  // Fixed classes of the share, so maps for different radii compare.
  var BREAKS = [0.2, 0.4, 0.6, 0.8];
  var COLOURS = ["#bd0026", "#f03b20", "#fd8d3c", "#fecc5c", "#31a354"];

  var map = L.map("map", { zoomControl: true }).setView([21.18, 106.1], 10);
  // The shared base map: the operator's tiles if any, outlines and names (static/maps/basemap.js).
  window.PortalBaseMap.add(map);
  var communes = L.geoJSON(null, { style: styleCommune, onEachFeature: bindCommune }).addTo(map);
  var buffers = L.layerGroup().addTo(map);
  var points = L.layerGroup().addTo(map);
  var catchments = L.geoJSON(null, {
    style: { color: "#3b3bb3", weight: 1.5, fill: false, dashArray: "4 3" },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindPopup("<b>" + esc(p.name) + "</b><br>" + S.catchment + "<br>" + S.population + ": " +
        fmt(p.population) + "<br>" + S.dossiers + ": " + fmt(p.dossiers));
    },
  });
  var suggestions = L.layerGroup().addTo(map);
  L.control.layers(null, { [S.catchment]: catchments }).addTo(map);

  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "coverage-legend");
    var html = "<b>" + esc(S.share) + "</b><br>";
    var lows = [0].concat(BREAKS);
    for (var i = 0; i < COLOURS.length; i++) {
      var high = i < BREAKS.length ? BREAKS[i] : 1;
      html += '<i style="background:' + COLOURS[i] + '"></i>' + pct(lows[i]) + " – " + pct(high) + "<br>";
    }
    div.innerHTML = html;
    return div;
  };
  legend.addTo(map);

  var form = {
    kind: document.getElementById("kind-select"),
    radius: document.getElementById("radius-input"),
    radiusOut: document.getElementById("radius-output"),
    on: document.getElementById("date-select"),
    catchments: document.getElementById("catchments-toggle"),
    count: document.getElementById("suggest-count"),
  };
  var status = document.getElementById("coverage-status");

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function fmt(n) { return n == null ? "—" : Math.round(n).toLocaleString(document.documentElement.lang || "vi"); }
  function pct(x) { return x == null ? "—" : Math.round(x * 100) + " %"; }
  function colour(share) {
    for (var i = 0; i < BREAKS.length; i++) if (share < BREAKS[i]) return COLOURS[i];
    return COLOURS[COLOURS.length - 1];
  }
  function styleCommune(f) {
    return { color: "#555", weight: 0.7, fillOpacity: 0.55, fillColor: colour(f.properties.share) };
  }
  function bindCommune(f, layer) {
    var p = f.properties;
    layer.bindPopup("<b>" + esc(p.name) + "</b> (" + esc(p.code) + ")<br>" + S.share + ": " + pct(p.share) +
      "<br>" + S.population + ": " + (p.population == null ? S.unknown : fmt(p.population)) +
      "<br>" + S.uncovered + ": " + fmt(p.uncovered_population));
  }
  function query(extra) {
    var q = new URLSearchParams({ kind: form.kind.value, on: form.on.value });
    Object.keys(extra || {}).forEach(function (k) { q.set(k, extra[k]); });
    return q.toString();
  }
  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(JSON.stringify(body));
        return body;
      });
    });
  }

  var generation = 0;
  var shownEra = null;
  function refresh() {
    var mine = ++generation;
    var radius = form.radius.value;
    form.radiusOut.textContent = radius;
    status.textContent = S.loading;
    var htmlLink = document.getElementById("coverage-html");
    if (htmlLink) htmlLink.href = config.coverageUrl + "?" + query({ radius_m: radius, format: "html" });
    document.getElementById("map").setAttribute("aria-busy", "true");
    var jobs = [
      getJson(config.coverageUrl + "?" + query({ radius_m: radius, format: "geojson" })).then(function (data) {
        if (mine !== generation) return;
        communes.clearLayers().addData(data.features);
        if (data.era !== shownEra && communes.getLayers().length) {
          shownEra = data.era;
          map.fitBounds(communes.getBounds(), { padding: [10, 10] });
        }
        var s = data.summary;
        var excluded = (s.communes_without_population || []).length;
        status.textContent = S.summary.replace("{share}", pct(s.share)).replace("{population}", fmt(s.population))
          .replace("{radius}", radius) +
          (excluded ? " " + S.summaryExcluded.replace("{count}", fmt(excluded)) : "");
        var list = document.getElementById("worst-list");
        list.innerHTML = "";
        data.worst.forEach(function (c) {
          var li = document.createElement("li");
          li.textContent = c.name + ": " + pct(c.share) +
            (c.uncovered_population == null ? "" : " (" + fmt(c.uncovered_population) + ")");
          list.appendChild(li);
        });
      }),
      getJson(config.pointsUrl + "?" + new URLSearchParams({
        kind: form.kind.value, limit: 1000 }).toString()).then(function (data) {
        if (mine !== generation) return;
        points.clearLayers();
        buffers.clearLayers();
        data.features.forEach(function (f) {
          var ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
          L.circle(ll, { radius: +radius, color: "#2b6cb0", weight: 0.5, fillOpacity: 0.08 }).addTo(buffers);
          L.circleMarker(ll, { radius: 3, color: "#1a365d", fillOpacity: 1 })
            .bindPopup(esc(f.properties.name)).addTo(points);
        });
      }),
    ];
    if (form.catchments.checked) {
      jobs.push(getJson(config.catchmentsUrl + "?" + query()).then(function (data) {
        if (mine !== generation) return;
        catchments.clearLayers().addData(data.features);
        if (!map.hasLayer(catchments)) catchments.addTo(map);
      }));
    } else {
      map.removeLayer(catchments);
    }
    suggestions.clearLayers();
    document.getElementById("suggest-list").innerHTML = "";
    if (+form.count.value > 0) {
      jobs.push(getJson(config.suggestUrl + "?" + query({ radius_m: radius, count: form.count.value }))
        .then(function (data) {
          if (mine !== generation) return;
          var list = document.getElementById("suggest-list");
          data.suggestions.forEach(function (s) {
            var text = S.gain.replace("{gain}", fmt(s.gain_population));
            L.marker([s.site.lat, s.site.lon], { title: s.site.commune.name })
              .bindPopup("<b>" + s.step + ". " + esc(s.site.commune.name) + "</b><br>" + esc(text))
              .addTo(suggestions);
            var li = document.createElement("li");
            li.textContent = s.site.commune.name + " — " + text;
            list.appendChild(li);
          });
        }));
    }
    Promise.all(jobs).catch(function (error) {
      status.textContent = S.failed.replace("{message}", error.message);
    }).finally(function () {
      if (mine === generation) document.getElementById("map").setAttribute("aria-busy", "false");
    });
  }

  var timer = null;
  form.radius.addEventListener("input", function () { form.radiusOut.textContent = form.radius.value; });
  [form.kind, form.radius, form.on, form.catchments, form.count].forEach(function (el) {
    el.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 150);
    });
  });
  map.on("overlayadd", function (e) { if (e.layer === catchments && !form.catchments.checked) {
    form.catchments.checked = true; refresh(); } });
  refresh();
})();
