"""Forms for writing SOPs without JSON: the SOP (sop), and one trigger, cancel rule or
step at a time, one form class per kind (triggers, steps, checklist); `common` maps a
definition's error path back to the field that shows it."""
