/* Submit page: a small map to place the applicant's address, which fills
 * the hidden lon/lat inputs, picks the commune clicked and proposes the
 * nearest commune desk as the receiving point (from the public nearest
 * API); the result-by-post address; and a submit button that cannot be
 * pressed twice. The page works without this script: every field is a
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

  async function loadBoundaries() {
    map.getContainer().setAttribute("aria-busy", "true");
    setStatus(text.loading);
    try {
      let next = apiUrl(config.api.adminUnits, { level: "commune", on: config.on, geometry: "simplified", limit: 200 });
      for (let page = 0; next && page < MAX_PAGES; page += 1) {
        const collection = await getJson(sameOriginPath(next));
        boundaries.addData(collection.features);
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
  loadBoundaries().then(() => {
    if (marker) {
      map.setView(marker.getLatLng(), 13);
    }
  });

  // --- Result by post --------------------------------------------------------------

  const deliveryField = document.getElementById("delivery-address-field");
  const deliveryInput = form.querySelector('input[name="delivery_address"]');
  const addressInput = form.querySelector('input[name="applicant_address"]');

  function showDelivery() {
    const chosen = form.querySelector('input[name="result_delivery"]:checked');
    const byPost = Boolean(chosen) && chosen.value === "post";
    deliveryField.hidden = !byPost;
    deliveryInput.required = byPost;
    if (byPost && !deliveryInput.value && addressInput.value) {
      deliveryInput.value = addressInput.value; // most people want it at home
    }
  }
  form.querySelectorAll('input[name="result_delivery"]').forEach((radio) => radio.addEventListener("change", showDelivery));
  showDelivery();

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
