/* Sector registry layers (hospitals, schools, parcels, ...) on the map page,
 * drawn from the portal's own vector tiles (/tiles/{layer}/{z}/{x}/{y}.pbf)
 * with Leaflet.VectorGrid. Runs after map.js, which exposes the map and its
 * layer switch. The list holds only the layers this visitor may see (the
 * server decides, see maps/views.py); every layer starts switched off unless
 * the address asks for it (?layers=a,b), so a click on the map still reaches
 * the commune and the nearest-point search. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("map-config").textContent);
  const map = window.portalMap;
  const layerControl = window.portalLayerControl;
  if (!map || !layerControl || !config.registries || !config.registries.length) {
    return;
  }
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

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  function escapeHtml(value) {
    const node = document.createElement("span");
    node.textContent = value;
    return node.innerHTML;
  }

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

  function popupFor(registry, properties) {
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
    return element("div", { class: "popup popup--registry" }, [title, element("dl", {}, rows)]);
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
        .setContent(popupFor(registry, event.layer.properties || {}))
        .openOn(map);
    });
    return layer;
  }

  const shown = new Set(config.shownRegistries || []);
  for (const registry of config.registries) {
    const layer = registryLayer(registry);
    registryLayers.set(registry.slug, layer);
    layerControl.addOverlay(layer, registryLabel(registry));
    if (shown.has(registry.slug)) {
      layer.addTo(map);
    }
  }
})();
