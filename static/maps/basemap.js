/* The base map every map page of the portal shares.
 *
 * PortalBaseMap.add(map, options) puts under a Leaflet map:
 * - the operator's raster tiles when configured (BASE_MAP_KIND=xyz), or a
 *   vector map drawn by MapLibre GL from the operator's style JSON
 *   (BASE_MAP_KIND=style; the page loads MapLibre only then), else none;
 * - the portal's own context layer, from its own public API (so no request
 *   leaves the machine by default): the province outline, commune and ward
 *   outlines, commune names from zoom 10 and service-point names from zoom 14,
 *   decluttered so that no two names overlap (the larger commune and the
 *   provincial centres win; the others wait for a closer zoom).
 * options: boundaries (draw the outlines; false when the page draws its own
 * communes), communeLabels, pointLabels, control (a Leaflet layers control to
 * list the tiles and the names in).
 * Settings come from the page's #base-map-config block (maps.basemap). The
 * API answers are fetched once per page, however many maps it has. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("base-map-config").textContent);
  const MAX_PAGES = 20;
  const LABEL_GAP_PX = 4;
  const cache = new Map();
  const added = []; // the maps this page gave a base map (for debugging and the browser tests)

  function escapeHtml(value) {
    const node = document.createElement("span");
    node.textContent = value;
    return node.innerHTML;
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
    }
    return response.json();
  }

  // Every page of a collection (`next` links are absolute: only their path is used).
  function features(url) {
    if (!cache.has(url)) {
      cache.set(
        url,
        (async () => {
          const all = [];
          let next = url;
          for (let page = 0; next && page < MAX_PAGES; page += 1) {
            const parsed = new URL(next, window.location.href);
            const collection = await getJson(parsed.pathname + parsed.search);
            all.push(...collection.features);
            next = collection.next;
          }
          return all;
        })()
      );
    }
    return cache.get(url);
  }

  function ensurePanes(map) {
    if (!map.getPane("context")) {
      // Above the tiles (200), below the page's own layers (400).
      map.createPane("context").style.zIndex = 250;
      const labels = map.createPane("contextLabels");
      labels.style.zIndex = 640; // above markers, below popups (700)
      labels.style.pointerEvents = "none";
    }
  }

  function label(latlng, text, className, priority) {
    const marker = L.marker(latlng, {
      pane: "contextLabels",
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: "context-label " + className, html: "<span>" + escapeHtml(text) + "</span>", iconSize: null }),
    });
    marker.labelPriority = priority;
    return marker;
  }

  // Shows each name only where it fits: in priority order, a name whose box
  // meets one already shown (or lies outside the view) is hidden.
  function declutter(map, groups) {
    const zoom = map.getZoom();
    const size = map.getSize();
    const placed = [];
    let shown = 0;
    for (const group of groups) {
      const active = zoom >= group.fromZoom;
      for (const marker of group.markers) {
        const element = marker.getElement();
        if (!element) {
          continue;
        }
        const span = element.firstChild;
        let visible = false;
        if (active) {
          const centre = map.latLngToContainerPoint(marker.getLatLng());
          const width = span.offsetWidth;
          const height = span.offsetHeight;
          const box = {
            left: centre.x - width / 2 - LABEL_GAP_PX,
            right: centre.x + width / 2 + LABEL_GAP_PX,
            top: centre.y + group.offsetY - height / 2 - LABEL_GAP_PX,
            bottom: centre.y + group.offsetY + height / 2 + LABEL_GAP_PX,
          };
          const inView = box.right > 0 && box.left < size.x && box.bottom > 0 && box.top < size.y;
          const free = placed.every(
            (other) => box.right <= other.left || box.left >= other.right || box.bottom <= other.top || box.top >= other.bottom
          );
          visible = inView && free;
          if (visible) {
            placed.push(box);
          }
        }
        element.classList.toggle("context-label--hidden", !visible);
        shown += visible ? 1 : 0;
      }
    }
    map.getContainer().dataset.contextLabels = String(shown);
  }

  // Where a commune's name goes: the centroid of its largest outer ring (a
  // commune spans a few kilometres, so plain degrees do), and that ring's area
  // for the order in which names are placed (the larger first).
  function labelPoint(geometry) {
    const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    let best = { area: -1, at: null };
    for (const polygon of polygons) {
      const ring = polygon[0];
      let twiceArea = 0;
      let x = 0;
      let y = 0;
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
        const cross = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
        twiceArea += cross;
        x += (ring[j][0] + ring[i][0]) * cross;
        y += (ring[j][1] + ring[i][1]) * cross;
      }
      const area = Math.abs(twiceArea / 2);
      if (area > best.area && twiceArea !== 0) {
        best = { area: area, at: L.latLng(y / (3 * twiceArea), x / (3 * twiceArea)) };
      }
    }
    return best;
  }

  function add(map, options) {
    const settings = Object.assign({ boundaries: true, communeLabels: true, pointLabels: true, control: null }, options);
    ensurePanes(map);
    added.push(map);
    map.attributionControl.addAttribution(escapeHtml(config.attribution));
    let tiles = null;
    if (config.tiles) {
      tiles = L.tileLayer(config.tiles.url, {
        attribution: escapeHtml(config.tiles.attribution),
        maxZoom: config.tiles.maxZoom,
      }).addTo(map);
      if (settings.control) {
        settings.control.addOverlay(tiles, escapeHtml(config.strings.tiles));
      }
    } else if (config.style && L.maplibreGL) {
      // Under everything: its own pane below the raster tiles' (200).
      if (!map.getPane("vectorBase")) {
        map.createPane("vectorBase").style.zIndex = 150;
      }
      tiles = L.maplibreGL({
        style: config.style.url,
        attribution: escapeHtml(config.style.attribution),
        pane: "vectorBase",
        interactive: false,
      }).addTo(map);
      if (settings.control) {
        settings.control.addOverlay(tiles, escapeHtml(config.strings.tiles));
      }
    }
    const outlines = L.layerGroup().addTo(map);
    const names = L.layerGroup().addTo(map);
    if (settings.control && (settings.communeLabels || settings.pointLabels)) {
      settings.control.addOverlay(names, escapeHtml(config.strings.context));
    }
    const groups = [];
    const context = config.context;
    const container = map.getContainer();
    container.dataset.context = "loading";

    const communesWanted = settings.boundaries || settings.communeLabels;
    const ready = Promise.all([
      settings.boundaries ? features(context.province) : Promise.resolve([]),
      communesWanted ? features(context.communes) : Promise.resolve([]),
      settings.pointLabels ? features(context.points) : Promise.resolve([]),
    ]).then(([province, communes, points]) => {
      if (settings.boundaries) {
        L.geoJSON(communes, {
          pane: "context",
          interactive: false,
          style: { color: "#7d8f9c", weight: 0.8, opacity: 0.9, fill: false, className: "context-commune" },
        }).addTo(outlines);
        L.geoJSON(province, {
          pane: "context",
          interactive: false,
          style: { color: "#50616e", weight: 2.2, opacity: 0.9, fill: false, className: "context-province" },
        }).addTo(outlines);
      }
      if (settings.communeLabels) {
        // The larger communes first: at a middle zoom their names are the ones shown.
        const markers = communes
          .map((feature) => {
            const placed = labelPoint(feature.geometry);
            return label(placed.at, feature.properties.name, "context-label--commune", placed.area);
          })
          .sort((a, b) => b.labelPriority - a.labelPriority);
        markers.forEach((marker) => names.addLayer(marker));
        groups.push({ markers: markers, fromZoom: context.communeLabelsFromZoom, offsetY: 0 });
      }
      if (settings.pointLabels) {
        const order = { provincial_centre: 0, commune_desk: 1, post_office: 2 };
        const markers = points
          .map((feature) => {
            const [lon, lat] = feature.geometry.coordinates;
            const rank = order[feature.properties.kind] ?? 3;
            return label([lat, lon], feature.properties.name, "context-label--point context-label--" + feature.properties.kind, -rank);
          })
          .sort((a, b) => b.labelPriority - a.labelPriority);
        markers.forEach((marker) => names.addLayer(marker));
        // Names sit under their point, not on it.
        groups.unshift({ markers: markers, fromZoom: context.pointLabelsFromZoom, offsetY: 14 });
      }
      const redraw = () => (map.hasLayer(names) ? declutter(map, groups) : null);
      map.on("zoomend moveend resize", redraw);
      names.on("add", () => window.setTimeout(redraw, 0));
      redraw();
      container.dataset.context = "ready";
    }).catch((error) => {
      // The page's own layers still work; the names are an aid.
      container.dataset.context = "failed";
      console.warn("context layer:", error.message);
    });
    return { tiles: tiles, outlines: outlines, names: names, ready: ready };
  }

  window.PortalBaseMap = Object.freeze({ add: add, config: config, maps: () => added.slice() });
})();
