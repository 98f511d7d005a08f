# ---- the report page (examples/report, docs/report.md): the last step of classify ---------------------
#   make report   writes $(RESULT)/index.html again at any time (e.g. after an extension), so that its
#                 section appears
REPORT := examples/report
REPORT_FLAGS = --result $(RESULT) --dataset $(DATA_DIR) --spec $(SPEC_DIR)
$(RESULT)/index.html: $(RESULT)/comparison.md $(MODELS_FREQPOOL) $(REPORT)/make_report.py $(REPORT)/report.py \
		$(REPORT)/templates/report.html $(REPORT)/templates/report.css | $(INSTALLED)
	$(PY) $(REPORT)/make_report.py $(REPORT_FLAGS)

.PHONY: report
report: | $(INSTALLED)
	$(PY) $(REPORT)/make_report.py $(REPORT_FLAGS)
