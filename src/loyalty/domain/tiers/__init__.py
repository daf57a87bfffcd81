"""Tier ladders, qualification, reviews and benefits (C4). Pure: time and activity are passed in."""
