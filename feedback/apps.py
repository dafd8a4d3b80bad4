from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = gettext_lazy("Feedback")

    def ready(self) -> None:
        # The dossier core never imports feedback: it offers places to plug in.
        from dossiers.extensions import (
            DemoHistoryPart,
            demo_history_part_register,
            dossier_section_register,
            dossier_step_labels_register,
        )
        from layers.batch_nearest import PointSource, point_source_register

        from . import demo, sections

        point_source_register(PointSource(name="feedback", table="feedback_feedback", geom_column="location"))

        dossier_section_register(sections.RATING_SECTION)
        dossier_step_labels_register(sections.STEP_LABELS)
        demo_history_part_register(
            DemoHistoryPart(
                name="feedback-ratings",
                delete=demo.dossier_ratings_demo_delete,
                generate=demo.dossier_ratings_demo_generate,
            )
        )
