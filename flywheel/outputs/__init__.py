"""The outputs: results folders written safely (``files``), what goes in them
(``results``), charts (``plots``), HTML reports (``report``), the validation report and
docs (``validation_report``) and the parameter reference table (``reference``)."""
