"""Tests of the segmentation plugin (客户分层/分群)."""
