from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = "Phản ánh, kiến nghị / Feedback"

    def ready(self) -> None:
        # The dossier core never imports feedback: it offers places to plug in.
        from dossiers.demo_history import DemoHistoryPart, demo_history_part_register
        from dossiers.extensions import dossier_section_register, dossier_step_labels_register

        from . import demo, sections

        dossier_section_register(sections.RATING_SECTION)
        dossier_step_labels_register(sections.STEP_LABELS)
        demo_history_part_register(
            DemoHistoryPart(
                name="feedback-ratings",
                delete=demo.dossier_ratings_demo_delete,
                generate=demo.dossier_ratings_demo_generate,
            )
        )
