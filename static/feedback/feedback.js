/* Feedback pages of the Bắc Ninh public-service portal: the public map
 * (server clusters at low zoom, markercluster up close), the report form
 * (map tap, device position or address; nearby reports to follow; phone
 * code for visitors without an account) and a report's page (follow, rate).
 * Everything goes through the public API; texts come from #feedback-config,
 * already translated by Django. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("feedback-config").textContent);
  const text = config.strings || {};
  const PROVINCE_CENTRE = [21.25, 106.3];

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body && typeof body.detail === "string" ? body.detail : "HTTP " + status);
      this.status = status;
      this.body = body || {};
    }
  }

  async function api(url, options) {
    let response;
    try {
      response = await fetch(url, {
        credentials: "same-origin",
        ...options,
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken(), ...((options && options.headers) || {}) },
      });
    } catch (error) {
      throw new Error(text.network, { cause: error });
    }
    const body = (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : null;
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  function postJson(url, data) {
    return api(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
  }

  function describe(error) {
    if (error instanceof ApiError && !error.body.detail) {
      return Object.values(error.body).flat().join(" ");
    }
    return error.message;
  }

  function withId(template, id) {
    return template.replace("ID", encodeURIComponent(id));
  }

  // The communes of the current map: without a base map (offline) they are
  // what makes the map readable. The first view fits them, unless the
  // visitor has already moved the map or chosen a place.
  function boundaries(map) {
    // The shared base map: the operator's tiles if any, and the names (static/maps/basemap.js).
    window.PortalBaseMap.add(map, { boundaries: false });
    let moved = false;
    map.once("zoomstart dragstart click", () => (moved = true));
    const params = new URLSearchParams({ level: "commune", on: config.on, geometry: "simplified", limit: 200 });
    api(config.api.adminUnits + "?" + params).then((collection) => {
      const layer = L.geoJSON(collection, {
        interactive: false,
        style: { color: "#3d6b8e", weight: 1, fillColor: "#fffdf6", fillOpacity: window.PortalBaseMap.config.tiles ? 0.15 : 0.8 },
      }).addTo(map);
      layer.bringToBack();
      // Marked once the map has stopped moving (for assistive technology and the browser test).
      const done = () => (map.getContainer().dataset.boundaries = "loaded");
      if (!moved && layer.getBounds().isValid()) {
        map.once("moveend", done);
        map.fitBounds(layer.getBounds(), { padding: [6, 6] });
      } else {
        done();
      }
    }, () => {});
  }

  // --- the public map ---------------------------------------------------------------

  function mapPage() {
    const container = document.getElementById("map");
    const map = L.map(container, { center: PROVINCE_CENTRE, zoom: 9, minZoom: 7, maxZoom: 18 });
    window.feedbackMap = map;
    boundaries(map);
    const clusters = L.layerGroup().addTo(map);
    const points = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 45 }).addTo(map);
    const form = document.getElementById("filters");
    const status = document.getElementById("map-status");
    const failure = document.getElementById("map-error");
    let request = 0;

    function tone(state) {
      if (["answered", "published", "closed", "refused"].includes(state)) return "closed";
      return state === "needs_info" ? "waiting" : "open";
    }

    function popup(properties) {
      const link = element("a", { href: withId(config.api.page, properties.id), text: text.open });
      return element("div", {}, [
        element("strong", { text: config.categories[properties.category] || properties.category }),
        element("div", { text: config.statuses[properties.status] || properties.status }),
        element("div", { text: text.received + ": " + properties.received_at }),
        element("div", { class: "hint", text: properties.status === "published" || properties.status === "closed" ? "" : text.approximate }),
        link,
      ]);
    }

    async function load() {
      const mine = ++request;
      const b = map.getBounds();
      const params = new URLSearchParams({
        bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(","),
        zoom: Math.round(map.getZoom()),
      });
      for (const [name, value] of new FormData(form)) if (value) params.set(name, value);
      container.setAttribute("aria-busy", "true");
      status.textContent = text.loading;
      failure.hidden = true;
      let collection;
      try {
        collection = await api(config.api.map + "?" + params);
      } catch (error) {
        if (mine === request) {
          failure.textContent = fill(text.failed, { message: describe(error) });
          failure.hidden = false;
          status.textContent = "";
          container.setAttribute("aria-busy", "false");
        }
        return;
      }
      if (mine !== request) return;
      clusters.clearLayers();
      points.clearLayers();
      let total = 0;
      for (const feature of collection.features) {
        const [lon, lat] = feature.geometry.coordinates;
        const properties = feature.properties;
        if (properties.cluster) {
          total += properties.count;
          const size = Math.round(24 + Math.min(Math.log10(properties.count + 1) * 14, 30));
          const marker = L.marker([lat, lon], {
            icon: L.divIcon({ className: "server-cluster", html: String(properties.count), iconSize: [size, size] }),
            title: fill(text.cluster, { count: properties.count }),
          });
          marker.on("click", () => map.setView([lat, lon], Math.min(map.getZoom() + 2, config.pointsFromZoom)));
          clusters.addLayer(marker);
        } else {
          total += 1;
          const marker = L.marker([lat, lon], {
            icon: L.divIcon({ className: "report-marker report-marker--" + tone(properties.status), iconSize: [14, 14] }),
            title: properties.id,
          });
          marker.bindPopup(() => popup(properties));
          points.addLayer(marker);
        }
      }
      status.textContent = fill(text.shown, { count: total });
      container.setAttribute("aria-busy", "false");
    }

    map.on("moveend", load);
    form.addEventListener("change", load);
    form.addEventListener("submit", (event) => event.preventDefault());
    load();
  }

  // --- the report form ------------------------------------------------------------------

  function newPage() {
    const form = document.getElementById("feedback-form");
    const map = L.map("location-map", { center: PROVINCE_CENTRE, zoom: 9, minZoom: 7, maxZoom: 18 });
    window.feedbackMap = map;
    boundaries(map);
    const locationStatus = document.getElementById("location-status");
    const nearby = document.getElementById("nearby");
    let chosen = null; // {lon, lat} of a point, or null with an address
    let marker = null;

    function showErrors(errors) {
      for (const node of form.querySelectorAll("[data-error]")) {
        const messages = errors[node.dataset.error];
        node.textContent = messages ? [].concat(messages).join(" ") : "";
        node.hidden = !messages;
      }
      const known = new Set([...form.querySelectorAll("[data-error]")].map((n) => n.dataset.error));
      const other = Object.entries(errors).filter(([name]) => !known.has(name));
      const general = document.getElementById("form-error");
      general.textContent = other.map(([name, m]) => name + ": " + [].concat(m).join(" ")).join(" ");
      general.hidden = other.length === 0;
    }

    function choose(lon, lat) {
      chosen = { lon: lon, lat: lat };
      if (marker) marker.setLatLng([lat, lon]);
      else marker = L.marker([lat, lon]).addTo(map);
      locationStatus.textContent = fill(text.chosen, { lat: lat.toFixed(5), lon: lon.toFixed(5) });
      checkNearby();
    }

    map.on("click", (event) => choose(event.latlng.lng, event.latlng.lat));

    document.getElementById("locate").addEventListener("click", () => {
      if (!navigator.geolocation) {
        locationStatus.textContent = text.geoFailed;
        return;
      }
      locationStatus.textContent = text.locating;
      navigator.geolocation.getCurrentPosition(
        (position) => {
          const { longitude, latitude } = position.coords;
          map.setView([latitude, longitude], 17);
          choose(longitude, latitude);
        },
        () => (locationStatus.textContent = text.geoFailed),
        { enableHighAccuracy: true, timeout: 10000 }
      );
    });

    document.getElementById("address-search").addEventListener("click", async () => {
      const q = document.getElementById("address").value.trim();
      if (!q) return;
      locationStatus.textContent = text.searching;
      try {
        const found = await api(config.api.places + "?" + new URLSearchParams({ q: q }));
        if (!found.results.length) {
          locationStatus.textContent = text.placeNone;
          return;
        }
        const place = found.results[0];
        const [lon, lat] = place.point.coordinates;
        chosen = null; // the address stands for the place; a tap on the map overrides it
        if (marker) marker.setLatLng([lat, lon]);
        else marker = L.marker([lat, lon]).addTo(map);
        map.setView([lat, lon], 13);
        locationStatus.textContent = fill(text.placeFound, { name: place.full_name });
      } catch (error) {
        locationStatus.textContent = fill(text.failed, { message: describe(error) });
      }
    });

    document.getElementById("category").addEventListener("change", checkNearby);

    async function checkNearby() {
      const category = document.getElementById("category").value;
      const list = document.getElementById("nearby-list");
      if (!category || !chosen) {
        nearby.hidden = true;
        return;
      }
      let found;
      try {
        found = await api(config.api.nearby + "?" + new URLSearchParams({ category: category, ...chosen }));
      } catch (error) {
        return;
      }
      list.replaceChildren();
      nearby.hidden = false;
      document.getElementById("nearby-title").textContent = found.results.length ? text.nearbyTitle : text.nearbyNone;
      for (const report of found.results) {
        const button = element("button", { type: "button", class: "button button--small button--secondary", text: text.follow });
        const state = element("span", { class: "hint", role: "status" });
        button.addEventListener("click", () => follow(report.id, button, state));
        list.append(
          element("li", { "data-report": report.id }, [
            element("a", { href: report.url, text: report.id }),
            element("span", { text: report.status_label.split(" / ")[config.language === "en" ? 1 : 0] }),
            element("span", { class: "hint", text: fill(text.distance, { distance: report.distance_m }) }),
            button,
            state,
          ])
        );
      }
    }

    async function follow(id, button, state) {
      const data = {};
      if (!config.signedIn) {
        data.phone = document.getElementById("phone").value;
        data.phone_code = document.getElementById("phone-code").value;
        if (!data.phone || !data.phone_code) {
          state.textContent = text.needPhone;
          return;
        }
      }
      try {
        await postJson(withId(config.api.follow, id), data);
        state.textContent = text.following;
        button.disabled = true;
      } catch (error) {
        state.textContent = fill(text.failed, { message: describe(error) });
      }
    }

    const sendCode = document.getElementById("send-code");
    if (sendCode) {
      sendCode.addEventListener("click", async () => {
        const codeStatus = document.getElementById("code-status");
        try {
          await postJson(config.api.phoneCode, { phone: document.getElementById("phone").value });
          codeStatus.textContent = text.codeSent;
          showErrors({});
        } catch (error) {
          codeStatus.textContent = "";
          showErrors(error instanceof ApiError && !error.body.detail ? error.body : { phone: [describe(error)] });
        }
      });
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      data.set("consent_location", document.getElementById("consent").checked ? "true" : "false");
      if (chosen) {
        data.set("lon", chosen.lon.toFixed(7));
        data.set("lat", chosen.lat.toFixed(7));
      }
      const submit = document.getElementById("submit");
      submit.disabled = true;
      submit.textContent = text.sending;
      try {
        const report = await api(config.api.submit, { method: "POST", body: data });
        window.location.assign(report.public_url || report.url);
      } catch (error) {
        showErrors(error instanceof ApiError && !error.body.detail ? error.body : { form: [describe(error)] });
        submit.disabled = false;
        submit.textContent = submit.dataset.label || submit.textContent;
      }
    });
    document.getElementById("submit").dataset.label = document.getElementById("submit").textContent;
  }

  // --- a report's page -----------------------------------------------------------------

  function reportPage() {
    for (const button of document.querySelectorAll("[data-send-code]")) {
      button.addEventListener("click", async () => {
        const phone = document.getElementById(button.dataset.sendCode).value;
        const state = button.closest("section").querySelector("[role=status]");
        try {
          await postJson(config.api.phoneCode, { phone: phone });
          state.textContent = "✓ SMS";
        } catch (error) {
          state.textContent = describe(error);
        }
      });
    }
    const followButton = document.getElementById("follow");
    followButton.addEventListener("click", async () => {
      const state = document.getElementById("follow-status");
      const data = config.signedIn
        ? {}
        : { phone: document.getElementById("follow-phone").value, phone_code: document.getElementById("follow-code").value };
      try {
        const answer = await postJson(withId(config.api.follow, config.id), data);
        document.getElementById("followers").textContent = answer.followers;
        state.textContent = "✓";
        followButton.disabled = true;
      } catch (error) {
        state.textContent = describe(error);
      }
    });
    const rate = document.getElementById("rate");
    if (rate) {
      rate.addEventListener("click", async () => {
        const state = document.getElementById("rating-status");
        const chosenScore = document.querySelector("input[name=score]:checked");
        const data = { score: chosenScore ? Number(chosenScore.value) : null, comment: document.getElementById("rating-comment").value };
        if (!config.signedIn) {
          data.phone = document.getElementById("rating-phone").value;
          data.phone_code = document.getElementById("rating-code").value;
        }
        try {
          await postJson(withId(config.api.rating, config.id), data);
          state.textContent = "✓";
          rate.disabled = true;
        } catch (error) {
          state.textContent = describe(error);
        }
      });
    }
  }

  const page = document.querySelector("[data-page]");
  if (!page) return;
  ({ map: mapPage, new: newPage, report: reportPage })[page.dataset.page]();
})();
