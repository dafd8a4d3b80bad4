from django.shortcuts import render


def home(request):
    return render(request, "maps/map.html", {"is_home": True})


def map_page(request):
    return render(request, "maps/map.html", {"is_home": False})
