"""Named pipelines built from steps: sample (now); star and eval later."""
