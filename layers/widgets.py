from django.contrib.gis.forms.widgets import OSMWidget


class OfflineOSMWidget(OSMWidget):
    """Django's map widget with OpenLayers served from our static files, not a
    CDN: the admin must work on a closed government network. Base tiles still
    come from OpenStreetMap when reachable; the point can be edited without."""

    class Media:
        extend = False  # drop the parent's CDN links
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js")
