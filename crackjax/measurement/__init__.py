"""Crack measurement from a binary mask: geometry (length, width, area, segments, orientation) and
severity (our reading of JTG 5210-2018). `quantify_cracks(mask, mm_per_pixel)` is the entry point."""

from crackjax.measurement.geometry import CrackMeasures
from crackjax.measurement.geometry import CrackQuantification
from crackjax.measurement.geometry import CrackSegment
from crackjax.measurement.geometry import quantify_cracks
from crackjax.measurement.geometry import quantify_cracks_dict
from crackjax.measurement.severity import JTGAssessment
from crackjax.measurement.severity import JTGRules
from crackjax.measurement.severity import pci_from_dr


__all__ = ["CrackMeasures", "CrackQuantification", "CrackSegment", "JTGAssessment", "JTGRules", "pci_from_dr",
           "quantify_cracks", "quantify_cracks_dict"]
