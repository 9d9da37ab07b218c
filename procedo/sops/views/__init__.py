"""SOP pages (thin views): authoring SOPs and revisions, feedback and reading, the library."""
