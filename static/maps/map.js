/* Map page of the Bắc Ninh public-service portal.
 *
 * Everything drawn comes from the public API (/api/v1/...), so the map shows
 * exactly what API clients get. Settings and every text shown to people come
 * from the page's JSON block (#map-config), already translated by Django.
 * The base map is the shared one (static/maps/basemap.js): by default no
 * tiles, since the portal must work without internet; the commune
 * boundaries and names are what makes the map readable. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("map-config").textContent);
  const text = config.strings;
  const locale = config.language === "vi" ? "vi-VN" : "en-GB";
  const integerFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const kilometreFormat = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const kindLabels = Object.fromEntries(config.kinds.map((kind) => [kind.key, kind.label]));
  // Opening times are the province's clock whatever the browser's time zone.
  const timeFormat = new Intl.DateTimeFormat(locale, {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: config.timeZone,
  });
  const dayTimeFormat = new Intl.DateTimeFormat(locale, {
    weekday: "short", day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    timeZone: config.timeZone,
  });
  const decimalFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  const dayNames = parseDayNames(text.days);

  // Shown until the boundaries arrive and the map fits them.
  const PROVINCE_CENTRE = [21.25, 106.4];
  // `next` links are followed at most this often: a guard against a loop,
  // not a cap on the data (one page already holds everything today).
  const MAX_PAGES = 50;
  const ICON_SIZES = { provincial_centre: 28, commune_desk: 16, post_office: 14 };
  // The few provincial centres must not hide under a commune desk next door.
  const Z_OFFSETS = { provincial_centre: 500 };
  const narrowScreen = window.matchMedia("(max-width: 767px)");
  const canHover = window.matchMedia("(hover: hover)");

  // --- Small helpers -------------------------------------------------------

  function parseDayNames(mapping) {
    const pairs = mapping.split(",").map((pair) => pair.split("="));
    return Object.fromEntries(pairs.filter((pair) => pair.length === 2));
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  function escapeHtml(value) {
    const node = document.createElement("span");
    node.textContent = value;
    return node.innerHTML;
  }

  // Builds DOM nodes instead of HTML strings, so names and addresses from the
  // API can never be read as markup.
  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "text") {
        node.textContent = value;
      } else {
        node.setAttribute(name, value);
      }
    }
    for (const child of children || []) {
      if (child !== null && child !== undefined) {
        node.append(child);
      }
    }
    return node;
  }

  // registries.js (loaded after this file) builds its popups and editor with
  // the same helpers.
  window.portalMapUtils = Object.freeze({ fill, escapeHtml, element });

  function formatDistance(metres) {
    if (Math.round(metres) < 1000) {
      return integerFormat.format(Math.round(metres)) + " m";
    }
    return kilometreFormat.format(metres / 1000) + " km";
  }

  // "Mo-Fr 07:30-11:30,13:30-17:00" (OpenStreetMap style) -> "T2–T6 07:30–11:30, 13:30–17:00".
  function formatOpeningHours(value) {
    return value
      .replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su)\b/g, (code) => dayNames[code] || code)
      .replace(/-/g, "–")
      .replace(/,\s*/g, ", ");
  }

  // An ISO moment of the API (always +07:00): the time alone when it falls
  // on the same day as `reference`, else with the day.
  function formatMoment(iso, reference) {
    const sameDay = reference && iso.slice(0, 10) === reference.slice(0, 10);
    return (sameDay ? timeFormat : dayTimeFormat).format(new Date(iso));
  }

  // "Open now, closes 11:30" / "Closed, opens Thu 03/09 07:30"; null without a state.
  function openingText(properties, reference) {
    if (properties.open_now === undefined) {
      return null;
    }
    if (properties.open_now === null) {
      return { open: null, text: text.hoursUnknown };
    }
    if (properties.open_now) {
      const closes = properties.closes_at ? fill(text.openUntil, { time: formatMoment(properties.closes_at, reference) }) : text.openNow;
      return { open: true, text: closes };
    }
    const opens = properties.opens_at
      ? fill(text.closedOpens, { time: formatMoment(properties.opens_at, reference) })
      : text.closedNoOpening;
    return { open: false, text: opens };
  }

  function loadText(properties) {
    if (!properties.load) {
      return null;
    }
    return fill(text.loadLine, {
      open: integerFormat.format(properties.load.open_dossiers),
      perCounter: decimalFormat.format(properties.load.per_counter),
    });
  }

  function waitText(properties) {
    return properties.estimated_wait_min === undefined
      ? null
      : fill(text.waitLine, { minutes: integerFormat.format(properties.estimated_wait_min) });
  }

  function setStatus(area, message) {
    document.getElementById(area + "-status").textContent = message || "";
  }

  function setError(area, message) {
    const node = document.getElementById(area + "-error");
    node.textContent = message || "";
    node.hidden = !message;
  }

  // --- API access ----------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super(describeApiBody(status, body));
      this.status = status;
    }
  }

  class NetworkError extends Error {}

  // 400 bodies map each bad parameter to its messages; others carry `detail`.
  function describeApiBody(status, body) {
    if (body && typeof body === "object") {
      if (typeof body.detail === "string") {
        return body.detail;
      }
      const parts = Object.entries(body).map(([name, messages]) => name + ": " + [].concat(messages).join(" "));
      if (parts.length) {
        return parts.join("; ");
      }
    }
    return "HTTP " + status;
  }

  async function getJson(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (error) {
      throw new NetworkError(text.networkError, { cause: error });
    }
    const isJson = (response.headers.get("Content-Type") || "").includes("json");
    const body = isJson ? await response.json() : null;
    if (!response.ok) {
      throw new ApiError(response.status, body);
    }
    return body;
  }

  function apiUrl(path, params) {
    return path + "?" + new URLSearchParams(params).toString();
  }

  // `next` links are absolute; behind a proxy their scheme or host may not be
  // the page's, so only their path and query are used.
  function sameOriginPath(url) {
    const parsed = new URL(url, window.location.href);
    return parsed.pathname + parsed.search;
  }

  async function getAllFeatures(url) {
    const features = [];
    let next = url;
    for (let page = 0; next && page < MAX_PAGES; page += 1) {
      const collection = await getJson(sameOriginPath(next));
      features.push(...collection.features);
      next = collection.next;
    }
    return features;
  }

  // Expected failures (bad request, server down) are shown next to the
  // control; anything else is a bug and is rethrown so it is not hidden.
  function showFailure(area, error) {
    setStatus(area, "");
    if (error instanceof ApiError) {
      setError(area, fill(text.requestFailed, { message: error.message }));
    } else if (error instanceof NetworkError) {
      setError(area, error.message);
    } else {
      setError(area, fill(text.requestFailed, { message: String(error) }));
      throw error;
    }
  }

  // --- Map -----------------------------------------------------------------

  // Quarter zoom steps let the province fill small screens instead of
  // jumping to a zoom level where it is half the size.
  const map = L.map("map", { center: PROVINCE_CENTRE, zoom: 9, minZoom: 6, maxZoom: 18, zoomSnap: 0.25 });
  map.attributionControl.addAttribution(escapeHtml(config.attribution));
  // Boundaries get their own pane below the default overlay pane, so the
  // nearest-point lines stay on top however often the era is switched.
  map.createPane("boundaries").style.zIndex = 350;
  // Commune names sit above the lines but never catch a click or a tap.
  const labelPane = map.createPane("labels");
  labelPane.style.zIndex = 450;
  labelPane.style.pointerEvents = "none";
  // Exposed for debugging from the console and for the browser test.
  window.portalMap = map;

  // Collapsed: expanded, the long kind names would hide much of the map;
  // the panel's legend explains the symbols.
  const layerControl = L.control.layers(null, null, { collapsed: true }).addTo(map);
  // registries.js adds the sector registry layers to the same switch.
  window.portalLayerControl = layerControl;

  function legendLabel(symbolClass, label) {
    return '<span class="legend-symbol ' + symbolClass + '" aria-hidden="true"></span>' + escapeHtml(label);
  }

  // --- Commune boundaries --------------------------------------------------

  let boundaryFillOpacity = 0.85;
  let eraRequest = 0;

  function boundaryStyle() {
    return { color: "#3d6b8e", weight: 1, opacity: 0.9, fillColor: "#fffdf6", fillOpacity: boundaryFillOpacity };
  }

  const boundaryLayer = L.geoJSON(null, {
    pane: "boundaries",
    // Set at creation: Leaflet reads className only when it builds the path.
    className: "commune-boundary",
    style: boundaryStyle,
    onEachFeature: bindCommune,
  }).addTo(map);
  layerControl.addOverlay(boundaryLayer, legendLabel("legend-symbol--commune", text.boundaries));

  // Names on the map once zoomed in: without a base map they are the only
  // way to tell where one is. Hidden further out, where they would overlap.
  const LABEL_MIN_ZOOM = 12;
  const labelLayer = L.layerGroup().addTo(map);

  function communeLabel(layer) {
    return L.marker(layer.getCenter(), {
      pane: "labels",
      interactive: false,
      keyboard: false,
      icon: L.divIcon({
        className: "commune-label",
        html: "<span>" + escapeHtml(layer.feature.properties.name) + "</span>",
        iconSize: null,
      }),
    });
  }

  function updateLabelVisibility() {
    map.getContainer().classList.toggle("show-commune-labels", map.getZoom() >= LABEL_MIN_ZOOM);
  }

  function communePopup(properties) {
    const rows = [[text.code, properties.code]];
    if (config.language !== "vi" && properties.name_en) {
      rows.push([text.englishName, properties.name_en]);
    }
    if (properties.population !== null && properties.population !== undefined) {
      const population = integerFormat.format(properties.population);
      const shown = properties.population_year
        ? fill(text.populationYear, { population: population, year: properties.population_year })
        : population;
      rows.push([text.population, shown]);
    }
    return popupContent(properties.full_name || properties.name, rows, null);
  }

  function highlightCommune(event) {
    event.target.setStyle({ weight: 2.5, color: "#0b3d5c", fillColor: "#fff1bf" });
  }

  function unhighlightCommune(event) {
    boundaryLayer.resetStyle(event.target);
  }

  function bindCommune(feature, layer) {
    // No auto-pan: the nearest search that the same click starts re-frames
    // the map around the clicked point, and two moves at once fight.
    layer.bindPopup(() => communePopup(feature.properties), { autoPan: false });
    // Hover names help with a mouse; on touch screens they would only cover the popup.
    if (canHover.matches) {
      layer.bindTooltip(feature.properties.name, { sticky: true, direction: "top", className: "commune-tooltip" });
    }
    // A click on a commune is a click on the map: Leaflet gives it to the
    // polygon only, so the polygon starts the nearest search too.
    layer.on({ mouseover: highlightCommune, mouseout: unhighlightCommune, click: onMapClick });
  }

  // Resolves once the map has stopped moving: Leaflet ends every view
  // change, animated or not, with "moveend".
  function fitProvince() {
    const bounds = boundaryLayer.getBounds();
    if (!bounds.isValid()) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      map.once("moveend", resolve);
      map.fitBounds(bounds, { padding: [8, 8] });
    });
  }

  // A link may ask for some registry layers (?layers=...): the first view
  // shows where their features are rather than the whole province.
  let focusPending = Boolean(config.focusBounds);

  function fitInitialView() {
    if (!focusPending) {
      return fitProvince();
    }
    focusPending = false;
    return new Promise((resolve) => {
      map.once("moveend", resolve);
      map.fitBounds(config.focusBounds, { padding: [24, 24], maxZoom: 16 });
    });
  }

  // aria-busy tells assistive technology (and the browser test) that the
  // boundaries are still coming in or the view is still moving to them.
  function setMapBusy(busy) {
    map.getContainer().setAttribute("aria-busy", busy ? "true" : "false");
  }

  async function showEra(eraKey) {
    const era = config.eras.find((candidate) => candidate.key === eraKey);
    const request = ++eraRequest;
    setMapBusy(true);
    setError("boundary", "");
    setStatus("boundary", text.loadingBoundaries);
    let features;
    try {
      const params = { level: "commune", on: era.on, geometry: "simplified", limit: 200 };
      features = await getAllFeatures(apiUrl(config.api.adminUnits, params));
    } catch (error) {
      if (request === eraRequest) {
        setMapBusy(false);
        showFailure("boundary", error);
      }
      return;
    }
    if (request !== eraRequest) {
      return; // a later era choice is already on its way
    }
    map.closePopup();
    boundaryLayer.clearLayers();
    boundaryLayer.addData(features);
    labelLayer.clearLayers();
    boundaryLayer.eachLayer((layer) => labelLayer.addLayer(communeLabel(layer)));
    setStatus("boundary", fill(text.boundariesLoaded, { count: features.length, era: era.label }));
    await fitInitialView();
    if (request === eraRequest) {
      setMapBusy(false);
    }
  }

  // --- Service points ------------------------------------------------------

  const pointLayers = new Map();
  const pointsByCode = new Map();

  function clusterIcon(kind) {
    return (cluster) =>
      L.divIcon({
        html: "<div><span>" + cluster.getChildCount() + "</span></div>",
        className: "marker-cluster service-cluster service-cluster--" + kind,
        iconSize: L.point(36, 36),
      });
  }

  // One cluster group per kind, so the layer switch can hide a kind and a
  // cluster never mixes kinds.
  function layerForKind(kind, fallbackLabel) {
    if (!pointLayers.has(kind)) {
      const layer = L.markerClusterGroup({
        maxClusterRadius: 24,
        disableClusteringAtZoom: 13,
        showCoverageOnHover: false,
        iconCreateFunction: clusterIcon(kind),
      }).addTo(map);
      layerControl.addOverlay(layer, legendLabel("legend-symbol--" + kind, kindLabels[kind] || fallbackLabel || kind));
      pointLayers.set(kind, layer);
    }
    return pointLayers.get(kind);
  }

  function pointIcon(kind) {
    const size = ICON_SIZES[kind] || 14;
    return L.divIcon({
      className: "service-point service-point--" + kind,
      html: "<span></span>",
      iconSize: [size, size],
      popupAnchor: [0, -size / 2],
    });
  }

  function popupContent(title, rows, note) {
    const list = element(
      "dl",
      {},
      rows.flatMap(([label, value]) => [element("dt", { text: label }), element("dd", { text: String(value) })])
    );
    const noteNode = note ? element("p", { class: "popup-note", text: note }) : null;
    return element("div", { class: "popup" }, [element("h3", { text: title }), list, noteNode]);
  }

  function pointPopup(properties, reference) {
    const rows = [];
    if (properties.distance_m !== undefined) {
      rows.push([text.distance, formatDistance(properties.distance_m)]);
    }
    const opening = openingText(properties, reference);
    if (opening) {
      rows.push([text.openingState, opening.text]);
    }
    if (properties.load) {
      rows.push([text.load, loadText(properties)]);
      rows.push([text.wait, waitText(properties)]);
    }
    if (properties.score_m !== undefined && properties.score_m !== null) {
      rows.push([text.score, formatDistance(properties.score_m)]);
    }
    rows.push([text.kind, kindLabels[properties.kind] || properties.kind_label || properties.kind]);
    if (properties.address) {
      rows.push([text.address, properties.address]);
    }
    if (properties.opening_hours) {
      rows.push([text.openingHours, formatOpeningHours(properties.opening_hours)]);
    }
    if (properties.counters) {
      rows.push([text.counters, integerFormat.format(properties.counters)]);
    }
    if (properties.phone) {
      rows.push([text.phone, properties.phone]);
    }
    return popupContent(properties.name, rows, properties.is_demo ? text.demoNote : null);
  }

  function pointMarker(feature) {
    const [lon, lat] = feature.geometry.coordinates;
    const properties = feature.properties;
    const options = {
      icon: pointIcon(properties.kind),
      title: properties.name,
      riseOnHover: true,
      zIndexOffset: Z_OFFSETS[properties.kind] || 0,
    };
    return L.marker([lat, lon], options).bindPopup(() => pointPopup(properties));
  }

  async function loadServicePoints() {
    setStatus("points", text.loadingPoints);
    let features;
    try {
      features = await getAllFeatures(apiUrl(config.api.servicePoints, { kind: "any", limit: 10000 }));
    } catch (error) {
      showFailure("points", error);
      return;
    }
    const markersByKind = new Map();
    for (const feature of features) {
      const kind = feature.properties.kind;
      pointsByCode.set(feature.properties.code, feature.properties);
      if (!markersByKind.has(kind)) {
        markersByKind.set(kind, { label: feature.properties.kind_label, markers: [] });
      }
      markersByKind.get(kind).markers.push(pointMarker(feature));
    }
    // Known kinds first and in a fixed order, so the layer switch reads like the legend.
    for (const kind of config.kinds.map((known) => known.key)) {
      if (markersByKind.has(kind)) {
        layerForKind(kind).addLayers(markersByKind.get(kind).markers);
      }
    }
    for (const [kind, group] of markersByKind) {
      if (!(kind in kindLabels)) {
        layerForKind(kind, group.label).addLayers(group.markers);
      }
    }
    setStatus("points", fill(text.pointsLoaded, { count: integerFormat.format(features.length) }));
  }

  // --- Nearest service points ----------------------------------------------

  const nearestLayer = L.featureGroup().addTo(map);
  const nearestList = document.getElementById("nearest-list");
  const kindSelect = document.getElementById("kind-select");
  const rankingNode = document.getElementById("nearest-ranking");
  const openAtInput = document.getElementById("open-at");
  let chosenProcedure = null;
  let lastQueryPoint = null;
  let nearestRequest = 0;

  function onMapClick(event) {
    return findNearest(event.latlng);
  }

  function clearNearest() {
    nearestLayer.clearLayers();
    nearestList.replaceChildren();
    rankingNode.textContent = "";
  }

  function rankIcon(rank) {
    return L.divIcon({ className: "nearest-marker", html: "<span>" + rank + "</span>", iconSize: [22, 22] });
  }

  function focusResult(marker) {
    map.setView(marker.getLatLng(), Math.max(map.getZoom(), 14));
    marker.openPopup();
    if (narrowScreen.matches) {
      map.getContainer().scrollIntoView({ behavior: "smooth", block: "nearest" });
    }
  }

  function nearestItem(properties, marker, reference) {
    const name = element("button", { type: "button", class: "nearest-name", text: properties.name });
    name.title = text.showOnMap;
    name.addEventListener("click", () => focusResult(marker));
    const distance = element("span", {
      class: "nearest-distance",
      "data-distance-m": String(properties.distance_m),
      text: formatDistance(properties.distance_m),
    });
    const opening = openingText(properties, reference);
    const openClass = opening === null || opening.open === null ? "unknown" : opening.open ? "open" : "closed";
    const details = [
      element("span", { class: "nearest-kind", text: kindLabels[properties.kind] || properties.kind }),
      opening ? element("span", { class: "nearest-state nearest-state--" + openClass, text: opening.text }) : null,
      properties.load
        ? element("span", { class: "nearest-load", text: loadText(properties) + " · " + waitText(properties) })
        : null,
      properties.score_m !== undefined && properties.score_m !== null
        ? element("span", { class: "nearest-score", text: fill(text.scoreLine, { score: formatDistance(properties.score_m) }) })
        : null,
      properties.address ? element("span", { class: "nearest-address", text: properties.address }) : null,
      properties.opening_hours
        ? element("span", { class: "nearest-hours", text: formatOpeningHours(properties.opening_hours) })
        : null,
    ];
    const item = element("li", { class: "nearest-item nearest-item--" + properties.kind }, [
      element("span", { class: "nearest-rank", text: String(properties.rank) }),
      element("div", { class: "nearest-body" }, [element("div", { class: "nearest-head" }, [name, distance]), ...details]),
    ]);
    item.dataset.code = properties.code;
    item.dataset.kind = properties.kind;
    if (opening) {
      item.dataset.open = openClass;
    }
    return item;
  }

  function rankingNote(collection) {
    if (!collection.ranking) {
      return "";
    }
    const order = collection.ranking.by === "balanced"
      ? fill(text.rankingBalanced, { penalty: integerFormat.format(collection.ranking.penalty_m_per_queued_dossier) })
      : text.rankingDistance;
    const moment = fill(text.rankingOpenAt, { time: dayTimeFormat.format(new Date(collection.query.open_at)) });
    return [moment, order, text.waitModel].join(" ");
  }

  function showNearest(origin, collection) {
    const features = collection.features;
    const reference = collection.query.open_at;
    clearNearest();
    L.circleMarker(origin, {
      className: "nearest-origin",
      radius: 7,
      color: "#b3261e",
      weight: 3,
      fillColor: "#ffffff",
      fillOpacity: 1,
    })
      .bindTooltip(text.chosenPoint)
      .addTo(nearestLayer);
    for (const feature of features) {
      const [lon, lat] = feature.geometry.coordinates;
      const target = L.latLng(lat, lon);
      // The nearest API leaves out is_demo and phone; the full list has them.
      const properties = { ...pointsByCode.get(feature.properties.code), ...feature.properties };
      L.polyline([origin, target], {
        className: "nearest-line",
        color: "#b3261e",
        weight: 2,
        dashArray: "6 5",
        interactive: false,
      }).addTo(nearestLayer);
      const marker = L.marker(target, { icon: rankIcon(properties.rank), title: properties.name, zIndexOffset: 1000 })
        .bindPopup(() => pointPopup(properties, reference))
        .addTo(nearestLayer);
      nearestList.append(nearestItem(properties, marker, reference));
    }
    const none = chosenProcedure ? text.nearestNoneProcedure : text.nearestNone;
    setStatus("nearest", features.length ? fill(text.nearestFound, { count: features.length }) : none);
    rankingNode.textContent = features.length ? rankingNote(collection) : "";
    // Zoom to the results: at the whole-province view the lines and numbers
    // would sit among dozens of other markers.
    map.fitBounds(nearestLayer.getBounds().pad(0.3), { maxZoom: 13 });
  }

  async function findNearest(latlng) {
    // Leaflet can hand out longitudes beyond ±180 after panning around the world.
    const point = latlng.wrap();
    lastQueryPoint = point;
    const request = ++nearestRequest;
    setError("nearest", "");
    setStatus("nearest", text.searching);
    // Always with a rank: the answer then says whether each point is open, its load and wait.
    const params = {
      lon: point.lng.toFixed(6),
      lat: point.lat.toFixed(6),
      kind: kindSelect.value,
      limit: config.nearestLimit,
      rank: document.querySelector('input[name="rank"]:checked').value,
    };
    if (chosenProcedure) {
      params.procedure = chosenProcedure.code;
    }
    if (openAtInput.value) {
      params.open_at = openAtInput.value; // no offset: Vietnam time, as the API reads it
    }
    let collection;
    try {
      collection = await getJson(apiUrl(config.api.nearest, params));
    } catch (error) {
      if (request === nearestRequest) {
        clearNearest();
        showFailure("nearest", error);
      }
      return;
    }
    if (request === nearestRequest) {
      showNearest(point, collection);
    }
  }

  function locateUser() {
    if (!("geolocation" in navigator)) {
      setError("nearest", text.geoUnsupported);
      return;
    }
    setError("nearest", "");
    setStatus("nearest", text.locating);
    navigator.geolocation.getCurrentPosition(
      (position) => findNearest(L.latLng(position.coords.latitude, position.coords.longitude)),
      (error) => {
        setStatus("nearest", "");
        setError("nearest", error.code === error.PERMISSION_DENIED ? text.geoDenied : text.geoUnavailable);
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 60000 }
    );
  }

  // --- Procedure picker ------------------------------------------------------

  // Searches the catalogue API as the catalogue page does (diacritics optional).
  const procedureInput = document.getElementById("procedure-search");
  const procedureOptions = document.getElementById("procedure-options");
  const procedureChosen = document.getElementById("procedure-chosen");
  const PROCEDURE_RESULTS = 8;
  const SEARCH_DELAY_MS = 250;
  let searchTimer = null;
  let searchRequest = 0;

  function hideOptions() {
    procedureOptions.hidden = true;
    procedureOptions.replaceChildren();
  }

  function rerunNearest() {
    if (lastQueryPoint) {
      findNearest(lastQueryPoint);
    }
  }

  function chooseProcedure(procedure) {
    chosenProcedure = procedure;
    hideOptions();
    procedureInput.value = "";
    procedureChosen.hidden = !procedure;
    document.getElementById("procedure-chosen-name").textContent = procedure
      ? fill(text.procedureChosen, { name: procedure.name, code: procedure.code })
      : "";
    rerunNearest();
  }

  function procedureOption(procedure) {
    const button = element("button", { type: "button", class: "procedure-option" }, [
      element("span", { class: "procedure-option-name", text: procedure.name }),
      element("span", { class: "procedure-option-code", text: procedure.code }),
    ]);
    button.dataset.code = procedure.code;
    button.addEventListener("click", () => chooseProcedure({ code: procedure.code, name: procedure.name }));
    return element("li", {}, [button]);
  }

  async function searchProcedures(query) {
    const request = ++searchRequest;
    setError("procedure", "");
    let body;
    try {
      body = await getJson(apiUrl(config.api.procedures, { q: query, limit: PROCEDURE_RESULTS }));
    } catch (error) {
      if (request === searchRequest) {
        hideOptions();
        showFailure("procedure", error);
      }
      return;
    }
    if (request !== searchRequest) {
      return;
    }
    procedureOptions.replaceChildren(
      ...(body.results.length
        ? body.results.map(procedureOption)
        : [element("li", { class: "procedure-none", text: text.procedureNone })])
    );
    procedureOptions.hidden = false;
  }

  procedureInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    const query = procedureInput.value.trim();
    if (query.length < 2) {
      searchRequest += 1;
      hideOptions();
      return;
    }
    searchTimer = setTimeout(() => searchProcedures(query), SEARCH_DELAY_MS);
  });
  procedureInput.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      hideOptions();
    } else if (event.key === "ArrowDown" && !procedureOptions.hidden) {
      const first = procedureOptions.querySelector("button");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  document.getElementById("procedure-clear").addEventListener("click", () => chooseProcedure(null));

  // --- Base map ------------------------------------------------------------

  // The shared base map (static/maps/basemap.js): the operator's tiles when
  // configured, and the service points' names at street level. This page
  // draws the communes of the chosen era and their names itself. Boundaries
  // turn translucent while tiles show, so the tiles can be seen.
  function addBaseMap() {
    const base = window.PortalBaseMap.add(map, { boundaries: false, communeLabels: false, control: layerControl });
    if (base.tiles) {
      setBoundaryFill(0.2);
      base.tiles.on("add", () => setBoundaryFill(0.2));
      base.tiles.on("remove", () => setBoundaryFill(0.85));
    }
  }

  function setBoundaryFill(opacity) {
    boundaryFillOpacity = opacity;
    boundaryLayer.setStyle(boundaryStyle);
  }

  // --- Wiring --------------------------------------------------------------

  map.on("click", onMapClick);
  map.on("zoomend", updateLabelVisibility);
  updateLabelVisibility();
  kindSelect.addEventListener("change", rerunNearest);
  openAtInput.addEventListener("change", rerunNearest);
  for (const radio of document.querySelectorAll('input[name="rank"]')) {
    radio.addEventListener("change", () => radio.checked && rerunNearest());
  }
  document.getElementById("locate-button").addEventListener("click", locateUser);
  document.getElementById("fit-button").addEventListener("click", () => fitProvince());
  for (const radio of document.querySelectorAll('input[name="era"]')) {
    radio.addEventListener("change", () => radio.checked && showEra(radio.value));
  }
  addBaseMap();
  const checkedEra = document.querySelector('input[name="era"]:checked');
  // A link may name a point to search from (?near=LON,LAT, e.g. from the
  // Zalo chat): its nearest service points once the boundaries are drawn.
  showEra(checkedEra ? checkedEra.value : config.defaultEra).then(() => {
    if (config.near) {
      findNearest(L.latLng(config.near[1], config.near[0]));
    }
  });
  loadServicePoints();
})();
