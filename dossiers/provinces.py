"""The province a dossier belongs to: the shard key of a national deployment
on Citus (DATABASE_DISTRIBUTION=citus; gisportal/distribution and README,
"Citus shards by province").

One machine serves one province: every row carries the home province's code
(the database default) and nothing here queries. In the Citus mode the
province comes from the receiving point's administrative unit, and the
services add it to the filters that lock or read one dossier, so Citus routes
them to one shard group."""

from django.conf import settings
from django.db import models

# Bắc Ninh on the 2025 map (layers.services.NEW_PROVINCE_CODE); the column's
# database default, so rows written by bulk loaders belong to it.
HOME_PROVINCE_CODE = "24"

_BY_UNIT: dict[int, str] = {}


def province_code_field():
    """The shard key of a national deployment on Citus, on every dossier
    table: the GSO code of the province of the dossier (or of the counted
    dossiers, or of the unit a code counter numbers)."""
    return models.CharField(max_length=2, db_default=HOME_PROVINCE_CODE, editable=False)


def distributed() -> bool:
    return settings.DATABASE_DISTRIBUTION == "citus"


def province_code_of_unit(unit_id: int | None) -> str:
    """GSO code of the province holding the administrative unit (walks up the
    parents); the home province for none. Kept per process: a unit never
    changes province."""
    if unit_id is None:
        return HOME_PROVINCE_CODE
    if unit_id not in _BY_UNIT:
        from layers.models import AdministrativeUnit, UnitLevel

        current = unit_id
        while True:
            level, code, parent = AdministrativeUnit.objects.values_list("level", "code", "parent_id").get(pk=current)
            if level == UnitLevel.PROVINCE or parent is None:
                break
            current = parent
        _BY_UNIT[unit_id] = code if level == UnitLevel.PROVINCE else HOME_PROVINCE_CODE
    return _BY_UNIT[unit_id]


def province_code_of_point(point) -> str:
    """Province of a receiving service point: looked up only in the Citus mode."""
    if not distributed():
        return HOME_PROVINCE_CODE
    return province_code_of_unit(point.admin_unit_id)


_BY_POINT: dict[int, str] = {}


def point_scope(point_id: int) -> dict:
    """Extra filter arguments for the dossiers received at a service point:
    its province in the Citus mode (one shard group), nothing otherwise."""
    if not distributed():
        return {}
    if point_id not in _BY_POINT:
        from layers.models import ServicePoint

        unit_id = ServicePoint.objects.filter(pk=point_id).values_list("admin_unit_id", flat=True).first()
        _BY_POINT[point_id] = province_code_of_unit(unit_id)
    return {"province_code": _BY_POINT[point_id]}


def dossier_scope(dossier_id: int) -> dict:
    """Filter arguments for one dossier by id: with its province in the Citus
    mode (one shard group, and the only way Citus locks a row FOR UPDATE),
    the id alone otherwise."""
    if not distributed():
        return {"pk": dossier_id}
    from .models import Dossier

    province = Dossier.objects.filter(pk=dossier_id).values_list("province_code", flat=True).first()
    return {"pk": dossier_id, "province_code": province or HOME_PROVINCE_CODE}


_BY_RECEIVING_UNIT: dict[str, str] = {}


def code_scope(code: str) -> dict:
    """Extra filter arguments for one dossier by its code: in the Citus mode
    its province, found from the receiving unit the code starts with
    (`<unit>-<YYMMDD>-<NNNN>`, a replicated table), so the lookup goes to one
    shard group; nothing otherwise."""
    if not distributed():
        return {}
    unit_identifier = code.rsplit("-", 2)[0]
    if unit_identifier not in _BY_RECEIVING_UNIT:
        from layers.models import ServicePoint

        units = ServicePoint.objects.filter(receiving_unit_identifier=unit_identifier).values_list(
            "admin_unit_id", flat=True
        )
        provinces = {province_code_of_unit(unit) for unit in units.distinct()}
        if len(provinces) != 1:
            return {}  # an unknown identifier: every shard is asked
        _BY_RECEIVING_UNIT[unit_identifier] = provinces.pop()
    return {"province_code": _BY_RECEIVING_UNIT[unit_identifier]}
