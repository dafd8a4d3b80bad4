/* Submit page: a small map to place the applicant's address, which fills
 * the hidden lon/lat inputs, picks the commune clicked and proposes the
 * nearest commune desk as the receiving point (from the public nearest
 * API); the result-by-post address, located on a second map (a click, the
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

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
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
  window.submitMap = map; // for the browser test and debugging
  // Not interactive: a click anywhere goes to the map, which finds the commune itself.
  const boundaries = L.geoJSON(null, {
    interactive: false,
    style: { color: "#0b3d5c", weight: 1, fillColor: "#dce9f2", fillOpacity: 0.6 },
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
      if (boundaries.getLayers().length) {
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

  async function proposeNearestDesk(latlng) {
    if (!pointSelect) {
      return; // a desk officer receives at their own desk
    }
    setStatus(text.searching);
    try {
      const url = apiUrl(config.api.nearest, { lon: latlng.lng, lat: latlng.lat, kind: "commune_desk", limit: 1 });
      const answer = await getJson(url);
      const nearest = answer.features[0];
      if (!nearest) {
        setStatus(text.nearestNone);
        return;
      }
      const properties = nearest.properties;
      if (hasOption(pointSelect, properties.code)) {
        pointSelect.value = properties.code;
        pointSelect.dispatchEvent(new Event("change", { bubbles: true }));
      }
      setStatus(fill(text.nearest, { name: properties.name, distance: formatDistance(properties.distance_m) }));
    } catch (error) {
      setStatus(text.nearestNone);
    }
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
    return proposeNearestDesk(latlng);
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
    }
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
    const outlines = L.geoJSON(null, {
      interactive: false,
      style: { color: "#0b3d5c", weight: 1, fillColor: "#dce9f2", fillOpacity: 0.6 },
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
