/* Sector registry layers (hospitals, schools, parcels, ...) on the map page,
 * drawn from the portal's own vector tiles (/tiles/{layer}/{z}/{x}/{y}.pbf)
 * with Leaflet.VectorGrid. Runs after map.js, which exposes the map and its
 * layer switch. The list holds only the layers this visitor may see (the
 * server decides, see maps/views.py); every layer starts switched off unless
 * the address asks for it (?layers=a,b), so a click on the map still reaches
 * the commune and the nearest-point search.
 *
 * Officials who may edit a layer (the server marks it `editable`) also get
 * an editor: Edit, Move and Delete in a feature's popup and "Add point" in a
 * toolbar, all through the registry API (/api/v1/layers/{slug}/features/)
 * with the session cookie and the CSRF token. The API checks everything
 * again and records who changed what; the page only shows its answers. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("map-config").textContent);
  const map = window.portalMap;
  const layerControl = window.portalLayerControl;
  if (!map || !layerControl || !config.registries || !config.registries.length) {
    return;
  }
  // Defined by map.js, as the map: text templates, escaping, DOM building.
  const { fill, escapeHtml, element } = window.portalMapUtils;
  const text = config.strings;
  const locale = config.language === "vi" ? "vi-VN" : "en-GB";
  const numberFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 6 });
  const POINT_TYPES = new Set(["Point", "MultiPoint"]);
  const LINE_TYPES = new Set(["LineString", "MultiLineString"]);
  const CLUSTER_ATTRIBUTE = "cluster_count";

  // --- Leaflet 1.9 compatibility of VectorGrid's canvas tiles ---------------
  //
  // VectorGrid 1.3.0 handles a click on its canvas with L.DomEvent.fakeStop,
  // which Leaflet 1.9 no longer has (upstream fix: Leaflet.VectorGrid#288,
  // unreleased), and finds the feature under the pointer in map pixels,
  // which are not the tile's own pixels at a fractional zoom (this map snaps
  // to quarter zooms) or beyond the tiles' native zoom. The handlers below
  // are Leaflet 1.9's own canvas event handling with the pointer measured in
  // tile pixels, plus what stacked tiles need: the topmost canvas (the only
  // one the browser tells) asks every registry tile under the pointer, and
  // a click that hits no feature goes on to whatever lies below (a commune,
  // the map) instead of stopping at the tiles. A point feature also gets its
  // position, which Leaflet reads for any circle under 10 px.
  L.Canvas.Tile.addInitHook(function () {
    this._container.portalTileRenderer = this;
  });

  function tilePixel(renderer, event) {
    const coords = renderer.getCoord();
    const latlng = renderer._map.mouseEventToLatLng(event);
    return renderer._map.project(latlng, coords.z).subtract(coords.scaleBy(renderer._size));
  }

  function featureAt(renderer, event) {
    const point = tilePixel(renderer, event);
    let found = null;
    for (const id in renderer._layers) {
      const layer = renderer._layers[id];
      const moved = (event.type === "click" || event.type === "preclick") && renderer._map._draggableMoved(layer);
      if (layer.options.interactive && layer._containsPoint(point) && !moved) {
        found = layer;
      }
    }
    return found;
  }

  function withPosition(renderer, feature) {
    if (feature._point && !feature._latlng) {
      const coords = renderer.getCoord();
      feature._latlng = renderer._map.unproject(feature._point.add(coords.scaleBy(renderer._size)), coords.z);
    }
    return feature;
  }

  // VectorGrid keeps a feature's properties but drops its id, which the
  // portal's tiles set to the feature's id in the database: the editor needs it.
  const createSymbolizer = L.VectorGrid.prototype._createLayer;
  L.VectorGrid.include({
    _createLayer: function (feature, pxPerExtent, layerStyle) {
      const symbolizer = createSymbolizer.call(this, feature, pxPerExtent, layerStyle);
      symbolizer.featureId = feature.id;
      return symbolizer;
    },
  });

  L.Canvas.Tile.include({
    _onClick: function (event) {
      if (!this._map) {
        return;
      }
      let below = null;
      for (const node of document.elementsFromPoint(event.clientX, event.clientY)) {
        const renderer = node.portalTileRenderer;
        if (!renderer) {
          below = node;
          break;
        }
        const feature = renderer._map && featureAt(renderer, event);
        if (feature) {
          renderer._fireEvent([withPosition(renderer, feature)], event);
          return;
        }
      }
      if (event.type === "click" && below && below !== map.getContainer() && map.getContainer().contains(below)) {
        L.DomEvent.stopPropagation(event);
        below.dispatchEvent(new MouseEvent("click", event));
      } else {
        this._fireEvent(false, event);
      }
    },

    _onMouseMove: function (event) {
      if (!this._map || this._map.dragging.moving() || this._map._animatingZoom) {
        return;
      }
      this._handleMouseHover(event, tilePixel(this, event));
    },
  });

  // --- Helpers -------------------------------------------------------------

  function formatValue(value) {
    if (typeof value === "boolean") {
      return value ? text.yes : text.no;
    }
    if (typeof value === "number") {
      return numberFormat.format(value);
    }
    return String(value);
  }

  // --- Styles and popups ---------------------------------------------------

  // Crowds grow with the logarithm of their head count: 2 and 20,000 both
  // stay readable, and on the server's 16-px grid they barely touch.
  function clusterRadius(count) {
    return Math.min(12, 4 + 2 * Math.log10(count));
  }

  function styleFor(registry) {
    const colour = registry.colour;
    return (properties) => {
      const count = properties[CLUSTER_ATTRIBUTE];
      if (count) {
        return {
          radius: clusterRadius(count),
          fill: true,
          fillColor: colour,
          fillOpacity: 0.6,
          color: colour,
          opacity: 0.9,
          weight: 1.5,
        };
      }
      if (POINT_TYPES.has(registry.geometryType)) {
        return { radius: 5, fill: true, fillColor: colour, fillOpacity: 0.95, color: "#ffffff", weight: 1.5 };
      }
      if (LINE_TYPES.has(registry.geometryType)) {
        return { radius: 3, color: colour, weight: 2, opacity: 0.9 };
      }
      // Polygons; a polygon layer's features too small for the zoom come as dots.
      return { radius: 3, fill: true, fillColor: colour, fillOpacity: 0.3, color: colour, weight: 1, opacity: 0.9 };
    };
  }

  function popupFor(registry, properties, featureId) {
    const count = properties[CLUSTER_ATTRIBUTE];
    const title = element("h3", { text: registry.title });
    if (count) {
      const note = element("p", { text: fill(text.registryCluster, { count: numberFormat.format(count) }) });
      return element("div", { class: "popup popup--registry" }, [title, note]);
    }
    const labels = new Map(registry.fields.map((field) => [field.name, field.label]));
    const names = [...registry.fields.map((field) => field.name)];
    for (const name of Object.keys(properties)) {
      if (!labels.has(name)) {
        names.push(name);
      }
    }
    const rows = names
      .filter((name) => properties[name] !== undefined && properties[name] !== null && properties[name] !== "")
      .flatMap((name) => [
        element("dt", { text: labels.get(name) || name }),
        element("dd", { text: formatValue(properties[name]) }),
      ]);
    // A crowd has no id; a lone feature has one and, for editors, actions.
    const actions = registry.editable && featureId !== undefined ? editor.popupActions(registry, featureId) : null;
    return element("div", { class: "popup popup--registry" }, [title, element("dl", {}, rows), actions]);
  }

  // --- Layers --------------------------------------------------------------

  // Above the commune fill, below the service point markers and the labels.
  map.createPane("registries").style.zIndex = 380;

  const registryLayers = new Map();
  // Exposed for the browser test and for debugging from the console.
  window.portalRegistryLayers = registryLayers;

  function registryLabel(registry) {
    const symbol =
      '<span class="legend-symbol registry-symbol registry-symbol--' +
      escapeHtml(registry.geometryType.toLowerCase()) +
      '" style="--registry-colour: ' +
      escapeHtml(registry.colour) +
      '" aria-hidden="true"></span>';
    return symbol + escapeHtml(registry.title);
  }

  function registryLayer(registry) {
    const options = {
      pane: "registries",
      rendererFactory: L.canvas.tile,
      interactive: true,
      maxNativeZoom: registry.maxNativeZoom,
      maxZoom: map.getMaxZoom(),
      // The layer's credit (the OpenStreetMap licence for the hospitals)
      // shows in the corner while the layer is on.
      attribution: registry.attribution ? escapeHtml(registry.attribution) : undefined,
      // Tiles of layers for officials need the session cookie.
      fetchOptions: { credentials: "same-origin" },
      vectorTileLayerStyles: { [registry.slug]: styleFor(registry) },
    };
    if (registry.bounds) {
      // No requests for tiles where the layer has nothing.
      options.bounds = L.latLngBounds(registry.bounds).pad(0.05);
    }
    const layer = L.vectorGrid.protobuf(registry.tiles, options);
    layer.on("click", (event) => {
      // Handled here: the map's own click (nearest search) is not run. Given
      // the Leaflet event, not the DOM one, this marks it for Leaflet itself.
      L.DomEvent.stopPropagation(event);
      L.popup({ maxWidth: 320, autoPan: true })
        .setLatLng(event.latlng)
        .setContent(popupFor(registry, event.layer.properties || {}, event.layer.featureId))
        .openOn(map);
    });
    return layer;
  }

  const shown = new Set(config.shownRegistries || []);
  const editor = config.editing ? featureEditor(config.editing) : null;
  for (const registry of config.registries) {
    const layer = registryLayer(registry);
    registryLayers.set(registry.slug, layer);
    layerControl.addOverlay(layer, registryLabel(registry));
    if (shown.has(registry.slug)) {
      layer.addTo(map);
    }
  }
  if (editor) {
    editor.addToolbar();
  }

  // --- The feature editor ---------------------------------------------------

  function featureEditor(settings) {
    const say = settings.strings;
    const mapArea = map.getContainer().parentElement;
    // At most one edit at a time: what it is, its temporary marker, and
    // what a click on the map does meanwhile.
    let session = null;
    let toastTimer = null;

    // API messages are written "Tiếng Việt / English": the page's half.
    function inLanguage(message) {
      const parts = String(message).split(" / ");
      if (parts.length !== 2) {
        return String(message);
      }
      return config.language === "en" ? parts[1] : parts[0];
    }

    // --- API calls ---------------------------------------------------------

    class EditError extends Error {
      constructor(status, body, message) {
        super(message);
        this.status = status;
        this.body = body;
      }
    }

    // The cookie first: it stays current if the user signs in again in
    // another tab, which replaces the token the page was rendered with.
    function csrfToken() {
      const prefix = settings.csrfCookieName + "=";
      for (const part of document.cookie.split(";")) {
        const item = part.trim();
        if (item.startsWith(prefix)) {
          return decodeURIComponent(item.slice(prefix.length));
        }
      }
      return settings.csrfToken;
    }

    function describeFailure(status, body) {
      const detail = body && typeof body.detail === "string" ? inLanguage(body.detail) : "";
      if (status === 401) {
        return say.signIn;
      }
      if (status === 403) {
        return fill(say.forbidden, { message: detail || "HTTP 403" });
      }
      if (status === 404) {
        return say.notFound;
      }
      if (status === 400) {
        return say.fixFields;
      }
      return fill(text.requestFailed, { message: detail || "HTTP " + status });
    }

    async function callApi(method, url, body) {
      const headers = { Accept: "application/json" };
      if (method !== "GET") {
        headers["X-CSRFToken"] = csrfToken();
      }
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
      }
      let response;
      try {
        response = await fetch(url, {
          method: method,
          headers: headers,
          credentials: "same-origin",
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (error) {
        throw new EditError(0, null, text.networkError);
      }
      const isJson = (response.headers.get("Content-Type") || "").includes("json");
      const data = isJson ? await response.json() : null;
      if (!response.ok) {
        throw new EditError(response.status, data, describeFailure(response.status, data));
      }
      return data;
    }

    function featureUrl(registry, featureId) {
      return registry.featuresApi + encodeURIComponent(featureId) + "/";
    }

    // The tile address carries no version, and the browser keeps a tile for
    // 60 s: a new query string fetches the layer again. The server's tile
    // cache keys on the layer's version, which the edit has moved, so any
    // new value will do.
    function refreshLayer(registry, latlng) {
      const layer = registryLayers.get(registry.slug);
      if (latlng && layer.options.bounds) {
        // A point beyond the layer's old extent must not fall outside the
        // area its tiles are asked for.
        layer.options.bounds = L.latLngBounds(layer.options.bounds).extend(latlng.toBounds(500));
      }
      layer.setUrl(registry.tiles + "?edit=" + Date.now().toString(36));
      if (!layer._map) {
        layer.addTo(map);
      }
    }

    // --- Messages ----------------------------------------------------------

    const toast = element("p", { class: "edit-toast", role: "status", "aria-live": "polite", hidden: "" });
    mapArea.append(toast);

    function showToast(message, isError) {
      clearTimeout(toastTimer);
      toast.textContent = message;
      toast.classList.toggle("edit-toast--error", Boolean(isError));
      toast.hidden = false;
      toastTimer = setTimeout(() => (toast.hidden = true), isError ? 8000 : 4000);
    }

    // --- The panel -----------------------------------------------------------

    const panelTitle = element("h2", { id: "edit-panel-title", tabindex: "-1" });
    const panelSubtitle = element("p", { class: "edit-panel-subtitle" });
    const closeButton = element("button", {
      type: "button",
      class: "edit-panel-close",
      "aria-label": say.close,
      title: say.close,
      text: "×",
    });
    const panelBody = element("div", { class: "edit-panel-body" });
    const panel = element(
      "section",
      { class: "edit-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "edit-panel-title", hidden: "" },
      [element("div", { class: "edit-panel-head" }, [panelTitle, closeButton]), panelSubtitle, panelBody]
    );
    mapArea.append(panel);
    closeButton.addEventListener("click", () => endSession());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && session) {
        endSession();
      }
    });

    function openPanel(title, subtitle, children) {
      panelTitle.textContent = title;
      panelSubtitle.textContent = subtitle || "";
      panelSubtitle.hidden = !subtitle;
      panelBody.replaceChildren(...children);
      panel.hidden = false;
    }

    function endSession() {
      if (!session) {
        return;
      }
      if (session.marker) {
        session.marker.remove();
      }
      const opener = session.opener;
      session = null;
      panel.hidden = true;
      panelBody.replaceChildren();
      map.getContainer().classList.remove("map-picking");
      addButton.setAttribute("aria-pressed", "false");
      if (opener && opener.isConnected) {
        opener.focus();
      }
    }

    function startSession(details) {
      endSession();
      session = { ...details, opener: document.activeElement };
      return session;
    }

    function subtitleFor(registry, featureId) {
      return fill(say.featureNumber, { layer: registry.title, id: featureId });
    }

    // A message for the whole form (or the panel), as an alert.
    function panelError() {
      return element("p", { class: "error edit-error", role: "alert", hidden: "" });
    }

    function setMessage(node, message) {
      node.textContent = message || "";
      node.hidden = !message;
    }

    // Keeps a point in sight beside or above the panel.
    function keepVisible(latlng) {
      if (panel.hidden) {
        map.panInside(latlng, { padding: [24, 24] });
        return;
      }
      const mapBox = map.getContainer().getBoundingClientRect();
      const panelBox = panel.getBoundingClientRect();
      const besideIt = panelBox.left - mapBox.left > mapBox.width / 3;
      const right = besideIt ? Math.max(0, mapBox.right - panelBox.left) : 0;
      const bottom = besideIt ? 0 : Math.max(0, mapBox.bottom - panelBox.top);
      map.panInside(latlng, { paddingTopLeft: [24, 24], paddingBottomRight: [right + 24, bottom + 24] });
    }

    // --- Picking a place on the map --------------------------------------------

    // While a place is being picked a click on the map sets it, instead of
    // opening a feature or starting the nearest search: caught on its way
    // down, before Leaflet's own handlers see it.
    map.getContainer().addEventListener(
      "click",
      (event) => {
        if (!session || !session.pick || map.dragging.moved()) {
          return;
        }
        if (event.target.closest(".leaflet-control, .leaflet-popup, .edit-marker")) {
          return;
        }
        event.preventDefault();
        event.stopImmediatePropagation();
        session.pick(map.mouseEventToLatLng(event).wrap());
      },
      true
    );

    function editMarker(latlng, onMove) {
      const marker = L.marker(latlng, {
        draggable: true,
        autoPan: true,
        zIndexOffset: 2000,
        icon: L.divIcon({ className: "edit-marker", html: "<span></span>", iconSize: [28, 28] }),
      }).addTo(map);
      marker.on("dragend", () => onMove(marker.getLatLng().wrap()));
      return marker;
    }

    function pointGeometry(latlng) {
      const round = (value) => Math.round(value * 1e7) / 1e7; // about a centimetre
      return { type: "Point", coordinates: [round(latlng.lng), round(latlng.lat)] };
    }

    function positionText(latlng) {
      return fill(say.position, { lat: latlng.lat.toFixed(6), lon: latlng.lng.toFixed(6) });
    }

    // --- Forms from the layer's schema -----------------------------------------

    const DATETIME_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

    // One input per schema field, of the kind its type needs.
    function fieldInput(field, id, value) {
      if (field.type === "boolean") {
        const select = element("select", { id: id }, [
          element("option", { value: "", text: say.noValue }),
          element("option", { value: "true", text: text.yes }),
          element("option", { value: "false", text: text.no }),
        ]);
        select.value = value === true ? "true" : value === false ? "false" : "";
        return select;
      }
      const attributes = { id: id, type: "text", autocomplete: "off" };
      let shown = value === null || value === undefined ? "" : String(value);
      if (field.type === "integer") {
        Object.assign(attributes, { type: "number", step: "1", inputmode: "numeric" });
      } else if (field.type === "number") {
        Object.assign(attributes, { type: "number", step: "any", inputmode: "decimal" });
      } else if (field.type === "date") {
        attributes.type = "date";
      } else if (field.type === "datetime") {
        Object.assign(attributes, { type: "datetime-local", step: "1" });
        const match = DATETIME_RE.exec(shown);
        shown = match ? match[1] : "";
      } else {
        attributes.maxlength = "10000";
      }
      const input = element("input", attributes);
      input.value = shown;
      if (field.type === "datetime") {
        // The wall time is shown as stored; a changed one keeps the stored
        // offset, a new one gets the server's time zone (the province's).
        const match = DATETIME_RE.exec(value || "");
        input.dataset.offset = match && match[2] ? match[2] : "";
      }
      return input;
    }

    // The value to send for an input, or {error}.
    function readInput(field, input) {
      if (input.validity && input.validity.badInput) {
        return { error: field.type === "integer" ? say.notInteger : say.notNumber };
      }
      const raw = input.value;
      if (raw.trim() === "") {
        return field.required ? { error: say.required } : { value: null };
      }
      if (field.type === "integer" || field.type === "number") {
        const number = Number(raw);
        if (!Number.isFinite(number)) {
          return { error: say.notNumber };
        }
        if (field.type === "integer" && !Number.isInteger(number)) {
          return { error: say.notInteger };
        }
        return { value: number };
      }
      if (field.type === "boolean") {
        return { value: raw === "true" };
      }
      if (field.type === "datetime") {
        return { value: raw + (input.dataset.offset || "") };
      }
      return { value: raw };
    }

    // A form of the layer's fields; `properties` fills it in. Gives the form
    // node, a reader of the values (all, or only the changed ones), and a
    // way to show the API's messages next to the fields they name.
    function propertiesForm(registry, properties) {
      const rows = registry.fields.map((field, index) => {
        const id = "edit-field-" + index;
        const input = fieldInput(field, id, properties[field.name]);
        input.name = field.name;
        const error = element("p", { class: "field-error", id: id + "-error", hidden: "" });
        input.setAttribute("aria-describedby", error.id);
        if (field.required) {
          input.setAttribute("aria-required", "true");
        }
        const label = element("label", { for: id, text: field.label }, [
          field.required ? element("span", { class: "required-mark", "aria-hidden": "true", text: " *" }) : null,
        ]);
        return {
          field,
          input,
          error,
          initial: input.value,
          node: element("div", { class: "edit-field" }, [label, input, error]),
        };
      });
      const byName = new Map(rows.map((row) => [row.field.name, row]));
      // A message goes once the field is changed; the next save checks again.
      for (const row of rows) {
        row.input.addEventListener("input", () => {
          setMessage(row.error, "");
          row.input.removeAttribute("aria-invalid");
        });
      }

      function clearErrors() {
        for (const row of rows) {
          setMessage(row.error, "");
          row.input.removeAttribute("aria-invalid");
        }
      }

      function markError(row, message) {
        setMessage(row.error, message);
        row.input.setAttribute("aria-invalid", "true");
      }

      function read(onlyChanged) {
        clearErrors();
        const values = {};
        let firstBad = null;
        for (const row of rows) {
          if (onlyChanged && row.input.value === row.initial) {
            continue;
          }
          const result = readInput(row.field, row.input);
          if (result.error) {
            markError(row, result.error);
            firstBad = firstBad || row.input;
          } else if (!(onlyChanged === false && result.value === null)) {
            values[row.field.name] = result.value;
          }
        }
        if (firstBad) {
          firstBad.focus();
          return null;
        }
        return values;
      }

      // A 400 names each bad field; messages about anything else (the
      // geometry, the body) are returned for the form's own message.
      function showErrors(body) {
        const others = [];
        let firstBad = null;
        for (const [name, messages] of Object.entries(body || {})) {
          const shown = [].concat(messages).map(inLanguage).join(" ");
          const row = byName.get(name);
          if (row) {
            markError(row, shown);
            firstBad = firstBad || row.input;
          } else {
            others.push(shown);
          }
        }
        if (firstBad) {
          firstBad.focus();
        }
        return others.join(" ");
      }

      return {
        node: element(
          "div",
          { class: "edit-fields" },
          rows.map((row) => row.node)
        ),
        read: read,
        showErrors: showErrors,
      };
    }

    // The form's buttons and its message; `save` runs on submit.
    function editForm(children, save) {
      const message = panelError();
      const saveButton = element("button", { type: "submit", class: "button", text: say.save });
      const cancelButton = element("button", { type: "button", class: "button button--secondary", text: say.cancel });
      cancelButton.addEventListener("click", () => endSession());
      const form = element("form", { class: "edit-form", novalidate: "" }, [
        ...children,
        message,
        element("div", { class: "edit-actions" }, [saveButton, cancelButton]),
      ]);
      const current = session;
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (saveButton.disabled) {
          return;
        }
        setMessage(message, "");
        saveButton.disabled = true;
        form.setAttribute("aria-busy", "true");
        try {
          await save(message);
        } finally {
          if (session === current) {
            saveButton.disabled = false;
            form.removeAttribute("aria-busy");
          }
        }
      });
      return { form, saveButton, message };
    }

    // Runs an API call for the open form: a success ends the edit and
    // refreshes the layer; a failure is shown in the form.
    async function send(request, onDone, showErrors, message) {
      const current = session;
      try {
        await request();
      } catch (error) {
        if (!(error instanceof EditError)) {
          throw error;
        }
        if (session !== current) {
          return;
        }
        const others = error.status === 400 && showErrors ? showErrors(error.body) : "";
        setMessage(message, others ? error.message + " " + others : error.message);
        if (error.status === 404) {
          refreshLayer(current.registry);
        }
        return;
      }
      if (session === current) {
        endSession();
      }
      onDone();
    }

    async function loadFeature(registry, featureId) {
      const message = panelError();
      openPanel(say.editTitle, subtitleFor(registry, featureId), [
        element("p", { class: "status", text: say.loadingFeature }),
        message,
      ]);
      const current = session;
      try {
        return await callApi("GET", featureUrl(registry, featureId));
      } catch (error) {
        if (!(error instanceof EditError)) {
          throw error;
        }
        if (session === current) {
          openPanel(say.editTitle, subtitleFor(registry, featureId), [message]);
          setMessage(message, error.message);
        }
        return null;
      }
    }

    // --- Edit, move, delete, add ----------------------------------------------

    async function startEdit(registry, featureId) {
      map.closePopup();
      const current = startSession({ kind: "edit", registry });
      const feature = await loadFeature(registry, featureId);
      if (!feature || session !== current) {
        return;
      }
      const fields = propertiesForm(registry, feature.properties || {});
      const { form } = editForm([fields.node], async (message) => {
        const changes = fields.read(true);
        if (changes === null) {
          return;
        }
        if (!Object.keys(changes).length) {
          endSession(); // nothing changed, nothing to record
          return;
        }
        await send(
          () => callApi("PATCH", featureUrl(registry, featureId), { type: "Feature", properties: changes }),
          () => {
            refreshLayer(registry);
            showToast(say.saved);
          },
          fields.showErrors,
          message
        );
      });
      openPanel(say.editTitle, subtitleFor(registry, featureId), [form]);
      const first = form.querySelector("input, select");
      (first || panelTitle).focus();
    }

    function singlePoint(geometry) {
      if (geometry && geometry.type === "Point") {
        return geometry.coordinates;
      }
      if (geometry && geometry.type === "MultiPoint" && geometry.coordinates.length === 1) {
        return geometry.coordinates[0];
      }
      return null;
    }

    async function startMove(registry, featureId) {
      map.closePopup();
      const current = startSession({ kind: "move", registry });
      const feature = await loadFeature(registry, featureId);
      if (!feature || session !== current) {
        return;
      }
      const coordinates = singlePoint(feature.geometry);
      if (!coordinates) {
        const message = panelError();
        openPanel(say.moveTitle, subtitleFor(registry, featureId), [message]);
        setMessage(message, say.cannotMove);
        return;
      }
      const start = L.latLng(coordinates[1], coordinates[0]);
      const position = element("p", { class: "edit-position", text: positionText(start) });
      const { form, saveButton } = editForm(
        [element("p", { class: "hint", text: say.pickMove }), position],
        async (message) => {
          const target = current.marker.getLatLng().wrap();
          await send(
            () =>
              callApi("PATCH", featureUrl(registry, featureId), { type: "Feature", geometry: pointGeometry(target) }),
            () => {
              refreshLayer(registry, target);
              showToast(say.moved);
            },
            null,
            message
          );
        }
      );
      saveButton.disabled = true; // until the point has somewhere new to go
      function moveTo(latlng) {
        current.marker.setLatLng(latlng);
        position.textContent = positionText(latlng);
        position.dataset.lat = String(latlng.lat);
        position.dataset.lon = String(latlng.lng);
        saveButton.disabled = false;
      }
      current.marker = editMarker(start, moveTo);
      current.pick = moveTo;
      map.getContainer().classList.add("map-picking");
      openPanel(say.moveTitle, subtitleFor(registry, featureId), [form]);
      keepVisible(start);
      panelTitle.focus();
    }

    async function deleteFeature(registry, featureId) {
      if (!window.confirm(fill(say.confirmDelete, { layer: registry.title }))) {
        return;
      }
      map.closePopup();
      try {
        await callApi("DELETE", featureUrl(registry, featureId));
      } catch (error) {
        if (!(error instanceof EditError)) {
          throw error;
        }
        showToast(error.message, true);
        if (error.status === 404) {
          refreshLayer(registry);
        }
        return;
      }
      refreshLayer(registry);
      showToast(say.deleted);
    }

    // Point layers this visitor may add to; the last one chosen stays chosen.
    const addTargets = config.registries.filter(
      (registry) => registry.editable && POINT_TYPES.has(registry.geometryType)
    );
    let lastAddSlug = null;

    function defaultAddTarget() {
      return (
        addTargets.find((registry) => registry.slug === lastAddSlug) ||
        addTargets.find((registry) => registryLayers.get(registry.slug)._map) ||
        addTargets[0]
      );
    }

    // With several point layers the form starts with a choice of layer;
    // another choice rebuilds the form from that layer's schema and keeps
    // the place already picked.
    function layerChoice(registry, onChange) {
      const select = element(
        "select",
        { id: "add-point-layer" },
        addTargets.map((target) => element("option", { value: target.slug, text: target.title }))
      );
      select.value = registry.slug;
      select.addEventListener("change", () => onChange(addTargets.find((target) => target.slug === select.value)));
      return element("div", { class: "edit-field edit-field--layer" }, [
        element("label", { for: "add-point-layer", text: say.addToLayer }),
        select,
      ]);
    }

    function startAdd(registry, at) {
      map.closePopup();
      lastAddSlug = registry.slug;
      const current = startSession({ kind: "add", registry });
      const choice =
        addTargets.length > 1
          ? layerChoice(registry, (chosen) => startAdd(chosen, current.marker ? current.marker.getLatLng() : at))
          : null;
      const hint = element("p", { class: "hint edit-pick-hint", text: say.pickNewPoint });
      const position = element("p", { class: "edit-position", hidden: "" });
      const fields = propertiesForm(registry, {});
      fields.node.hidden = true; // the form comes once the place is chosen
      const { form, saveButton } = editForm([choice, hint, position, fields.node], async (message) => {
        const properties = fields.read(false);
        if (properties === null) {
          return;
        }
        const target = current.marker.getLatLng().wrap();
        await send(
          () =>
            callApi("POST", registry.featuresApi, {
              type: "Feature",
              geometry: pointGeometry(target),
              properties: properties,
            }),
          () => {
            refreshLayer(registry, target);
            showToast(say.added);
          },
          fields.showErrors,
          message
        );
      });
      saveButton.hidden = true;
      function placeAt(latlng, quietly) {
        if (current.marker) {
          current.marker.setLatLng(latlng);
        } else {
          current.marker = editMarker(latlng, placeAt);
        }
        position.textContent = positionText(latlng);
        position.dataset.lat = String(latlng.lat);
        position.dataset.lon = String(latlng.lng);
        position.hidden = false;
        hint.textContent = say.pickMove;
        if (fields.node.hidden) {
          fields.node.hidden = false;
          saveButton.hidden = false;
          keepVisible(latlng);
          const first = fields.node.querySelector("input, select");
          if (first && !quietly) {
            first.focus();
          }
        }
      }
      current.pick = placeAt;
      map.getContainer().classList.add("map-picking");
      addButton.setAttribute("aria-pressed", "true");
      openPanel(say.addTitle, choice ? null : registry.title, [form]);
      if (at) {
        placeAt(at, true);
      }
      (choice ? choice.querySelector("select") : panelTitle).focus();
    }

    // --- Popup actions and the toolbar ------------------------------------------

    function actionButton(action, label, handler) {
      const button = element("button", {
        type: "button",
        class: "popup-action popup-action--" + action,
        "data-action": action,
        text: label,
      });
      button.addEventListener("click", handler);
      return button;
    }

    function popupActions(registry, featureId) {
      return element("div", { class: "popup-actions" }, [
        actionButton("edit", say.edit, () => startEdit(registry, featureId)),
        POINT_TYPES.has(registry.geometryType)
          ? actionButton("move", say.move, () => startMove(registry, featureId))
          : null,
        actionButton("delete", say.delete, () => deleteFeature(registry, featureId)),
      ]);
    }

    const addButton = element("button", {
      type: "button",
      class: "edit-add-button",
      id: "add-point-button",
      "aria-pressed": "false",
      text: "+ " + say.addPoint,
    });

    function addToolbar() {
      if (!addTargets.length) {
        return;
      }
      const container = element(
        "div",
        { class: "leaflet-bar edit-toolbar", role: "group", "aria-label": say.editTools },
        [addButton]
      );
      addButton.addEventListener("click", () => {
        if (session && session.kind === "add") {
          endSession();
        } else {
          startAdd(defaultAddTarget(), null);
        }
      });
      const Toolbar = L.Control.extend({
        onAdd: () => {
          L.DomEvent.disableClickPropagation(container);
          L.DomEvent.disableScrollPropagation(container);
          return container;
        },
      });
      new Toolbar({ position: "topleft" }).addTo(map);
    }

    return { popupActions, addToolbar };
  }
})();
