from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from layers.models import Layer
from layers.registries.exporting import EXPORT_FORMATS, layer_export
from layers.registries.selectors import features_of, typed_value

FORMAT_BY_SUFFIX = {spec.extension: name for name, spec in EXPORT_FORMATS.items()}


class Command(BaseCommand):
    help = "Export a registry layer (or a bbox / property selection) to .gpkg, .geojson or .csv."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("path", type=Path)
        parser.add_argument("--bbox", help="minLon,minLat,maxLon,maxLat")
        parser.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE", help="Repeatable.")

    def handle(self, *args, slug: str, path: Path, bbox: str | None, where: list[str], **options):
        layer = Layer.objects.filter(slug=slug).first()
        if layer is None:
            raise CommandError(f"Không có lớp / no layer with slug {slug!r}")
        format = FORMAT_BY_SUFFIX.get(path.suffix.lower())
        if format is None:
            raise CommandError(f"Đuôi tệp phải là / the file must end in: {', '.join(FORMAT_BY_SUFFIX)}")
        box = None
        if bbox:
            try:
                box = tuple(float(v) for v in bbox.split(","))
            except ValueError:
                box = ()
            if len(box) != 4 or not (box[0] <= box[2] and box[1] <= box[3]):
                raise CommandError("--bbox: minLon,minLat,maxLon,maxLat")
        properties = {}
        for condition in where:
            name, _, value = condition.partition("=")
            if layer.field(name) is None:
                raise CommandError(f"--where: {name!r} không phải trường của lớp / is not a field of the layer")
            try:
                typed_value(layer, name, value)
            except ValueError as error:
                raise CommandError(f"--where: {condition!r} sai kiểu / wrong type") from error
            properties[name] = value
        count = layer_export(
            layer=layer,
            path=path,
            format=format,
            features_queryset=features_of(layer=layer, bbox=box, properties=properties or None),
        )
        self.stdout.write(self.style.SUCCESS(f"{count} features written to {path}"))
