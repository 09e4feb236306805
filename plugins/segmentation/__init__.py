"""客户分层/分群 (segmentation): per-branch tier ladders, segment rules compiled to SQL, set-based recompute."""

from plugins.segmentation.plugin import SegmentationPlugin

plugin = SegmentationPlugin()
