/* Submit page: a small map to place the applicant's address (a tap, the
 * device's location, or a commune, ward or service point found by name),
 * which fills the hidden lon/lat inputs and the commune, and lists the desks
 * that may receive this procedure for that address with the reason, the
 * proposed one first (GET /api/v1/procedures/{code}/desks/); a warning in
 * words when the person picks a desk that may not receive it; the result-by-post address, located on a second map (a click, the
 * device's location, or the typed address matched to a commune) with the
 * nearest post offices; sending the paper dossier by post (collected at
 * home, or dropped at the proposed post office); and a submit button that
 * cannot be pressed twice. The page works without this script: every field is a
 * plain form field, and the server decides everything again. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("submit-config").textContent);
  const text = config.strings;
  const form = document.getElementById("submit-form");
  if (!form) {
    return;
  }
  const lonInput = form.querySelector('input[name="lon"]');
  const latInput = form.querySelector('input[name="lat"]');
  const communeSelect = form.querySelector('select[name="applicant_commune"]');
  const pointSelect = form.querySelector('select[name="receiving_point"]');
  const statusNode = document.getElementById("location-status");
  const clearButton = document.getElementById("location-clear");
  const locale = config.language === "vi" ? "vi-VN" : "en-GB";
  const kilometres = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const PROVINCE_CENTRE = [21.25, 106.3];
  const MAX_PAGES = 20;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  function setStatus(message) {
    statusNode.textContent = message || "";
  }

  function formatDistance(metres) {
    return metres < 1000 ? Math.round(metres) + " m" : kilometres.format(metres / 1000) + " km";
  }

  // A refused request's error names the parameters and their messages when the API says them.
  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) {
      let detail = "HTTP " + response.status;
      try {
        const body = await response.json();
        detail = typeof body.detail === "string"
          ? body.detail
          : Object.entries(body).map(([name, messages]) => name + ": " + [].concat(messages).join(" ")).join("; ");
      } catch (ignored) {
        // not JSON: the status says it
      }
      throw new Error(detail);
    }
    return response.json();
  }

  function apiUrl(path, params) {
    return path + "?" + new URLSearchParams(params).toString();
  }

  // `next` links are absolute; only their path and query are used.
  function sameOriginPath(url) {
    const parsed = new URL(url, window.location.href);
    return parsed.pathname + parsed.search;
  }

  function hasOption(select, value) {
    return Boolean(select) && Array.from(select.options).some((option) => option.value === value);
  }

  // --- Map ---------------------------------------------------------------------

  const map = L.map("location-map", { center: PROVINCE_CENTRE, zoom: 9, minZoom: 7, maxZoom: 18, zoomSnap: 0.25 });
  // The province (or the applicant's commune, when the form names it) from the first frame.
  if (config.startBounds) {
    map.fitBounds(config.startBounds, { padding: [8, 8], animate: false });
  }
  window.submitMap = map; // for the browser test and debugging
  // The shared base map: the operator's tiles if any, and the names (static/maps/basemap.js).
  window.PortalBaseMap.add(map, { boundaries: false });
  // Not interactive: a click anywhere goes to the map, which finds the commune itself.
  const boundaries = L.geoJSON(null, {
    interactive: false,
    style: { color: "#0b3d5c", weight: 1, fillColor: "#dce9f2", fillOpacity: window.PortalBaseMap.config.tiles ? 0.15 : 0.6 },
  }).addTo(map);
  let marker = null;

  function placeMarker(latlng) {
    if (marker) {
      marker.setLatLng(latlng);
    } else {
      marker = L.circleMarker(latlng, { radius: 8, color: "#b3261e", weight: 3, fillOpacity: 0.9 }).addTo(map);
    }
    clearButton.hidden = false;
  }

  // The commune outlines, fetched once for both maps.
  const communeFeatures = [];

  async function loadBoundaries() {
    map.getContainer().setAttribute("aria-busy", "true");
    setStatus(text.loading);
    try {
      let next = apiUrl(config.api.adminUnits, { level: "commune", on: config.on, geometry: "simplified", limit: 200 });
      for (let page = 0; next && page < MAX_PAGES; page += 1) {
        const collection = await getJson(sameOriginPath(next));
        boundaries.addData(collection.features);
        communeFeatures.push(...collection.features);
        next = collection.next;
      }
      if (!config.startBounds && boundaries.getLayers().length) {
        map.fitBounds(boundaries.getBounds(), { padding: [8, 8] });
      }
      setStatus("");
    } catch (error) {
      setStatus(text.mapFailed);
    } finally {
      map.getContainer().setAttribute("aria-busy", "false");
    }
  }

  // The commune under the click, from the boundaries already drawn.
  function communeAt(latlng) {
    let found = null;
    boundaries.eachLayer((layer) => {
      if (!found && layer.getBounds().contains(latlng) && insidePolygon(latlng, layer.feature.geometry)) {
        found = layer.feature;
      }
    });
    return found;
  }

  // Ray casting over every ring of a (Multi)Polygon in lon/lat.
  function insidePolygon(latlng, geometry) {
    const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    const x = latlng.lng;
    const y = latlng.lat;
    let inside = false;
    for (const polygon of polygons) {
      for (const ring of polygon) {
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
          const [xi, yi] = ring[i];
          const [xj, yj] = ring[j];
          if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) {
            inside = !inside;
          }
        }
      }
    }
    return inside;
  }

  // --- The desks that may receive this procedure for the address ---------------------

  const deskAdvice = document.getElementById("desk-advice");
  const deskProposed = document.getElementById("desk-proposed");
  const deskHeading = document.getElementById("desk-heading");
  const deskList = document.getElementById("desk-list");
  const deskWarning = document.getElementById("desk-warning");
  let desks = null; // the last answer of the desks API
  let deskRequest = 0;

  function inLanguage(reason) {
    return config.language === "en" ? reason.en : reason.vi;
  }

  function optionName(code) {
    const option = Array.from(pointSelect.options).find((item) => item.value === code);
    return option ? option.textContent.trim() : code;
  }

  function proposedDesk() {
    return desks ? desks.features.find((feature) => feature.properties.proposed) : null;
  }

  // In words, not only in colour: the chosen desk may not receive this procedure here.
  function checkDesk() {
    if (!pointSelect || !deskWarning) {
      return;
    }
    const code = pointSelect.value;
    const listed = desks && desks.features.some((f) => f.properties.role === "receiving" && f.properties.code === code);
    const others = desks ? desks.other_commune_desks : null;
    if (!desks || !code || listed || others.may_receive) {
      deskWarning.hidden = true;
      deskWarning.textContent = "";
      pointSelect.removeAttribute("aria-invalid");
      return;
    }
    const proposed = proposedDesk();
    deskWarning.textContent = fill(text.deskNotEligible, {
      name: optionName(code),
      commune: desks.commune.full_name,
      reason: inLanguage(others.reason),
      proposed: proposed ? proposed.properties.name : "",
    });
    deskWarning.hidden = false;
    pointSelect.setAttribute("aria-invalid", "true");
  }

  // Desks the citizen picked themselves (the list's buttons count as theirs):
  // a proposal that answers after such a pick does not undo it.
  let handPicks = 0;
  let proposing = false;

  function selectDesk(code) {
    if (hasOption(pointSelect, code)) {
      pointSelect.value = code;
      proposing = true;
      try {
        pointSelect.dispatchEvent(new Event("change", { bubbles: true }));
      } finally {
        proposing = false;
      }
    }
  }

  function deskItem(feature) {
    const properties = feature.properties;
    const item = document.createElement("li");
    item.dataset.code = properties.code;
    item.dataset.role = properties.role;
    const name = document.createElement("span");
    name.className = "desk-name";
    name.textContent = properties.name;
    if (properties.proposed) {
      const tag = document.createElement("span");
      tag.className = "desk-tag";
      tag.textContent = text.proposedTag;
      name.append(tag);
    }
    const reason = document.createElement("span");
    reason.className = "desk-reason";
    reason.textContent = inLanguage(properties.reason);
    const meta = document.createElement("span");
    meta.className = "desk-meta";
    meta.textContent = formatDistance(properties.distance_m) + (properties.role === "postal_drop_off" ? " · " + text.dropOff : "");
    item.append(name, reason, meta);
    if (properties.role === "receiving" && hasOption(pointSelect, properties.code)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button--secondary button--small";
      button.textContent = text.choose;
      button.addEventListener("click", () => {
        selectDesk(properties.code);
        handPicks += 1;
      });
      item.append(button);
    }
    return item;
  }

  function showDesks(picksBefore) {
    const proposed = proposedDesk();
    deskHeading.textContent = fill(text.desksFor, { commune: desks.commune.full_name });
    deskList.replaceChildren(...desks.features.map(deskItem));
    deskProposed.textContent = proposed
      ? fill(text.proposed, { name: proposed.properties.name, distance: formatDistance(proposed.properties.distance_m) }) +
        " " + inLanguage(proposed.properties.reason)
      : "";
    deskAdvice.hidden = false;
    if (proposed && handPicks === picksBefore) {
      selectDesk(proposed.properties.code);
    }
    checkDesk();
  }

  async function proposeDesks(latlng) {
    if (!pointSelect) {
      return; // a desk officer receives at their own desk
    }
    const request = ++deskRequest;
    const picksBefore = handPicks;
    deskProposed.textContent = text.desksLoading;
    deskAdvice.hidden = false;
    let answer;
    try {
      answer = await getJson(apiUrl(config.api.desks, { lon: latlng.lng.toFixed(6), lat: latlng.lat.toFixed(6) }));
    } catch (error) {
      if (request === deskRequest) {
        desks = null;
        deskList.replaceChildren();
        deskHeading.textContent = "";
        deskProposed.textContent = fill(text.desksFailed, { message: error.message });
        checkDesk();
      }
      return;
    }
    if (request === deskRequest) {
      desks = answer;
      showDesks(picksBefore);
    }
  }

  if (pointSelect) {
    pointSelect.addEventListener("change", () => {
      if (!proposing) {
        handPicks += 1;
      }
      checkDesk();
    });
  }

  function choose(latlng) {
    const lon = Math.round(latlng.lng * 1e6) / 1e6;
    const lat = Math.round(latlng.lat * 1e6) / 1e6;
    lonInput.value = String(lon);
    latInput.value = String(lat);
    placeMarker(latlng);
    const commune = communeAt(latlng);
    if (commune && hasOption(communeSelect, commune.properties.code)) {
      communeSelect.value = commune.properties.code;
    }
    setStatus(fill(text.chosen, { lat: lat.toFixed(5), lon: lon.toFixed(5) }));
    proposePickupOffice(latlng);
    return proposeDesks(latlng);
  }

  map.on("click", (event) => {
    choose(event.latlng);
  });

  clearButton.addEventListener("click", () => {
    lonInput.value = "";
    latInput.value = "";
    if (marker) {
      marker.remove();
      marker = null;
    }
    clearButton.hidden = true;
    setStatus("");
  });

  // After a refused submission the chosen point comes back in the hidden inputs.
  if (lonInput.value && latInput.value) {
    const latlng = L.latLng(Number(latInput.value), Number(lonInput.value));
    if (Number.isFinite(latlng.lat) && Number.isFinite(latlng.lng)) {
      placeMarker(latlng);
    }
  }
  const boundariesLoaded = loadBoundaries().then(() => {
    if (marker) {
      map.setView(marker.getLatLng(), 13);
      // The desks again, so that a refused desk is explained next to the list.
      const chosenDesk = pointSelect ? pointSelect.value : "";
      proposeDesks(marker.getLatLng()).then(() => chosenDesk && selectDesk(chosenDesk));
    }
  });

  // --- Finding the address: search by name, or the device's location -------------------

  const searchInput = document.getElementById("place-search");
  const searchResults = document.getElementById("place-results");
  const locateError = document.getElementById("locate-error");
  const SEARCH_DELAY_MS = 300;
  let searchTimer = null;
  let searchRequest = 0;

  function showResults(children) {
    searchResults.replaceChildren(...children);
    searchResults.hidden = children.length === 0;
  }

  function resultNote(message) {
    const item = document.createElement("li");
    item.className = "place-none";
    item.textContent = message;
    return item;
  }

  function forgetPoint() {
    lonInput.value = "";
    latInput.value = "";
    if (marker) {
      marker.remove();
      marker = null;
    }
    clearButton.hidden = true;
  }

  function chooseResult(result) {
    showResults([]);
    const [lon, lat] = result.point.coordinates;
    if (result.type === "commune") {
      // Only the commune is known: no precise point is sent (tap the map for one).
      forgetPoint();
      if (hasOption(communeSelect, result.code)) {
        communeSelect.value = result.code;
      }
      const [west, south, east, north] = result.bbox;
      map.fitBounds([[south, west], [north, east]], { padding: [8, 8] });
      setStatus(fill(text.communeChosen, { commune: result.detail }));
      return proposeDesks(L.latLng(lat, lon));
    }
    map.setView([lat, lon], 16);
    setStatus(fill(text.pointFound, { name: result.name }));
    return Promise.resolve();
  }

  function resultItem(result) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "place-result";
    button.dataset.code = result.code;
    button.dataset.type = result.type;
    button.textContent = result.type === "commune" ? result.detail : result.name;
    if (result.type !== "commune" && result.detail) {
      const small = document.createElement("small");
      small.textContent = result.detail;
      button.append(small);
    }
    button.addEventListener("click", () => chooseResult(result));
    const item = document.createElement("li");
    item.append(button);
    return item;
  }

  async function searchPlaces() {
    clearTimeout(searchTimer);
    const q = searchInput.value.trim();
    const request = ++searchRequest;
    if (q.length < 2) {
      showResults(q ? [resultNote(text.searchShort)] : []);
      return;
    }
    let answer;
    try {
      answer = await getJson(apiUrl(config.api.places, { q: q, limit: 8 }));
    } catch (error) {
      if (request === searchRequest) {
        showResults([resultNote(fill(text.searchFailed, { message: error.message }))]);
      }
      return;
    }
    if (request === searchRequest) {
      showResults(answer.results.length ? answer.results.map(resultItem) : [resultNote(text.searchNone)]);
    }
  }

  searchInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(searchPlaces, SEARCH_DELAY_MS);
  });
  searchInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault(); // search, do not send the form
      searchPlaces();
    } else if (event.key === "Escape") {
      showResults([]);
    }
  });
  document.getElementById("place-search-button").addEventListener("click", searchPlaces);

  function showLocateError(message) {
    locateError.textContent = message || "";
    locateError.hidden = !message;
  }

  document.getElementById("locate-me").addEventListener("click", () => {
    showLocateError("");
    if (!("geolocation" in navigator)) {
      showLocateError(text.geoUnsupported);
      return;
    }
    setStatus(text.locating);
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const latlng = L.latLng(position.coords.latitude, position.coords.longitude);
        boundariesLoaded.then(() => {
          if (!communeAt(latlng)) {
            setStatus("");
            showLocateError(text.geoOutside);
            return;
          }
          map.setView(latlng, 16);
          choose(latlng);
        });
      },
      (error) => {
        setStatus("");
        showLocateError(error.code === error.PERMISSION_DENIED ? text.geoDenied : text.geoFailed);
      },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
    );
  });

  // --- Result by post: the address located on a map of its own -----------------------

  const deliveryField = document.getElementById("delivery-address-field");
  const deliveryInput = form.querySelector('input[name="delivery_address"]');
  const addressInput = form.querySelector('input[name="applicant_address"]');
  const deliveryLon = form.querySelector('input[name="delivery_lon"]');
  const deliveryLat = form.querySelector('input[name="delivery_lat"]');
  const deliveryCommune = form.querySelector('select[name="delivery_commune"]');
  const deliveryStatus = document.getElementById("delivery-status");
  const officesList = document.getElementById("delivery-post-offices");
  let deliveryMap = null;
  let deliveryMarker = null;
  let deliveryOutline = null;

  function deliveryStatusSet(message) {
    deliveryStatus.textContent = message || "";
  }

  function ensureDeliveryMap() {
    if (deliveryMap) {
      deliveryMap.invalidateSize();
      return;
    }
    deliveryMap = L.map("delivery-map", { center: PROVINCE_CENTRE, zoom: 9, minZoom: 7, maxZoom: 18, zoomSnap: 0.25 });
    window.deliveryMap = deliveryMap; // for the browser test
    window.PortalBaseMap.add(deliveryMap, { boundaries: false });
    const outlines = L.geoJSON(null, {
      interactive: false,
      style: { color: "#0b3d5c", weight: 1, fillColor: "#dce9f2", fillOpacity: window.PortalBaseMap.config.tiles ? 0.15 : 0.6 },
    }).addTo(deliveryMap);
    deliveryMap.getContainer().setAttribute("aria-busy", "true");
    boundariesLoaded.then(() => {
      outlines.addData(communeFeatures);
      if (deliveryMarker) {
        deliveryMap.setView(deliveryMarker.getLatLng(), 15);
      } else if (outlines.getLayers().length) {
        deliveryMap.fitBounds(outlines.getBounds(), { padding: [8, 8] });
      }
      deliveryMap.getContainer().setAttribute("aria-busy", "false");
    });
    deliveryMap.on("click", (event) => chooseDelivery(event.latlng));
    // After a refused submission the located point comes back in the hidden inputs.
    if (deliveryLon.value && deliveryLat.value) {
      placeDeliveryMarker(L.latLng(Number(deliveryLat.value), Number(deliveryLon.value)));
    }
  }

  function placeDeliveryMarker(latlng) {
    if (deliveryMarker) {
      deliveryMarker.setLatLng(latlng);
    } else {
      deliveryMarker = L.marker(latlng, { keyboard: false }).addTo(deliveryMap);
    }
  }

  function outlineCommune(code) {
    if (deliveryOutline) {
      deliveryOutline.remove();
      deliveryOutline = null;
    }
    const feature = communeFeatures.find((item) => item.properties.code === code);
    if (feature) {
      deliveryOutline = L.geoJSON(feature, { interactive: false, style: { color: "#b3261e", weight: 3, fillOpacity: 0.05 } });
      deliveryOutline.addTo(deliveryMap);
    }
    return feature;
  }

  async function proposePostOffices(latlng) {
    try {
      const url = apiUrl(config.api.nearest, { lon: latlng.lng, lat: latlng.lat, kind: "post_office", limit: 3 });
      const answer = await getJson(url);
      officesList.replaceChildren(
        ...answer.features.map((office) => {
          const item = document.createElement("li");
          item.textContent = office.properties.name + " — " + formatDistance(office.properties.distance_m);
          item.dataset.code = office.properties.code;
          return item;
        })
      );
      officesList.hidden = answer.features.length === 0;
      return answer.features;
    } catch (error) {
      officesList.hidden = true;
      return [];
    }
  }

  function chooseDelivery(latlng) {
    const commune = communeAt(latlng);
    if (!commune) {
      deliveryStatusSet(text.deliveryOutside);
      return Promise.resolve([]);
    }
    const lon = Math.round(latlng.lng * 1e6) / 1e6;
    const lat = Math.round(latlng.lat * 1e6) / 1e6;
    deliveryLon.value = String(lon);
    deliveryLat.value = String(lat);
    placeDeliveryMarker(latlng);
    outlineCommune(commune.properties.code);
    if (hasOption(deliveryCommune, commune.properties.code)) {
      deliveryCommune.value = commune.properties.code;
    }
    deliveryStatusSet(
      fill(text.deliveryChosen, { lat: lat.toFixed(5), lon: lon.toFixed(5), commune: commune.properties.full_name })
    );
    return proposePostOffices(latlng);
  }

  // A typed address, with or without diacritics, matched to a commune of the current map.
  async function matchDelivery() {
    ensureDeliveryMap();
    const typed = deliveryInput.value.trim();
    if (!typed) {
      return;
    }
    try {
      const answer = await getJson(apiUrl(config.api.match, { address: typed, on: config.on, limit: 1 }));
      const found = answer.features[0];
      if (!found) {
        deliveryStatusSet(text.deliveryNoMatch);
        return;
      }
      // Only the commune is known: no precise point is sent.
      deliveryLon.value = "";
      deliveryLat.value = "";
      if (deliveryMarker) {
        deliveryMarker.remove();
        deliveryMarker = null;
      }
      if (hasOption(deliveryCommune, found.properties.code)) {
        deliveryCommune.value = found.properties.code;
      }
      await boundariesLoaded;
      const feature = outlineCommune(found.properties.code);
      if (feature) {
        deliveryMap.fitBounds(deliveryOutline.getBounds(), { padding: [8, 8] });
      }
      deliveryStatusSet(fill(text.deliveryMatched, { commune: found.properties.full_name }));
      const [lon, lat] = found.geometry.coordinates;
      await proposePostOffices(L.latLng(lat, lon));
    } catch (error) {
      deliveryStatusSet(text.deliveryNoMatch);
    }
  }

  document.getElementById("delivery-match").addEventListener("click", matchDelivery);
  document.getElementById("delivery-locate").addEventListener("click", () => {
    ensureDeliveryMap();
    if (!navigator.geolocation) {
      deliveryStatusSet(text.geoFailed);
      return;
    }
    deliveryStatusSet(text.locating);
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const latlng = L.latLng(position.coords.latitude, position.coords.longitude);
        boundariesLoaded.then(() => {
          deliveryMap.setView(latlng, 15);
          chooseDelivery(latlng);
        });
      },
      () => deliveryStatusSet(text.geoFailed),
      { enableHighAccuracy: true, timeout: 10000 }
    );
  });

  function showDelivery() {
    const chosen = form.querySelector('input[name="result_delivery"]:checked');
    const byPost = Boolean(chosen) && chosen.value === "post";
    deliveryField.hidden = !byPost;
    deliveryInput.required = byPost;
    if (byPost && !deliveryInput.value && addressInput.value) {
      deliveryInput.value = addressInput.value; // most people want it at home
    }
    if (byPost) {
      ensureDeliveryMap();
    }
  }
  form.querySelectorAll('input[name="result_delivery"]').forEach((radio) => radio.addEventListener("change", showDelivery));
  showDelivery();

  // --- The dossier itself by post ----------------------------------------------------

  const pickupAddressField = document.getElementById("pickup-address-field");
  const pickupAddress = form.querySelector('input[name="pickup_address"]');
  const pickupSelect = form.querySelector('select[name="pickup_point"]');
  const pickupStatus = document.getElementById("pickup-status");
  let pickupAutoChosen = false;

  async function proposePickupOffice(latlng) {
    if (!pickupSelect || (pickupSelect.value && !pickupAutoChosen)) {
      return; // none on this page, or chosen by the person
    }
    try {
      const url = apiUrl(config.api.nearest, { lon: latlng.lng, lat: latlng.lat, kind: "post_office", limit: 1 });
      const nearest = (await getJson(url)).features[0];
      if (nearest && hasOption(pickupSelect, nearest.properties.code)) {
        pickupSelect.value = nearest.properties.code;
        pickupAutoChosen = true;
        pickupStatus.textContent = fill(text.pickupProposed, {
          name: nearest.properties.name,
          distance: formatDistance(nearest.properties.distance_m),
        });
      }
    } catch (error) {
      pickupStatus.textContent = "";
    }
  }

  function showPickup() {
    const chosen = form.querySelector('input[name="postal_pickup"]:checked');
    const mode = chosen ? chosen.value : "";
    pickupAddressField.hidden = mode !== "home";
    document.getElementById("pickup-point-field").hidden = mode !== "post_office";
    if (mode === "home" && !pickupAddress.value && addressInput.value) {
      pickupAddress.value = addressInput.value;
    }
  }
  if (pickupSelect) {
    pickupSelect.addEventListener("change", () => {
      pickupAutoChosen = false;
      pickupStatus.textContent = "";
    });
    form.querySelectorAll('input[name="postal_pickup"]').forEach((radio) => radio.addEventListener("change", showPickup));
    showPickup();
  }

  // --- One submission --------------------------------------------------------------

  const submitButton = document.getElementById("submit-button");
  form.addEventListener("submit", () => {
    // The server already turns a second POST into the first dossier; this
    // just tells the person their click was taken.
    window.setTimeout(() => {
      submitButton.disabled = true;
      submitButton.textContent = text.sending;
    }, 0);
  });
})();
