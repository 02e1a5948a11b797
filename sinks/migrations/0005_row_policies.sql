-- pxstream: requires=access_management
-- Tenant isolation for dashboards (a ClickHouse server; the embedded engine has no users).
-- A dashboard user is created per organisation with the organisation as a CONST custom setting:
--   CREATE USER dash_qwe IDENTIFIED BY '...' DEFAULT ROLE pxstream_dashboard
--       SETTINGS SQL_pxstream_organisation = 'QWE' CONST;
--   GRANT pxstream_dashboard TO dash_qwe;
-- Once a table has a row policy, users it does not name see nothing, so pxstream_all keeps the
-- writer and operators (everyone but the dashboard role) seeing every row.
CREATE ROLE IF NOT EXISTS pxstream_dashboard;
GRANT SELECT ON feedback_events TO pxstream_dashboard;
GRANT SELECT ON hotspot_alerts TO pxstream_dashboard;
GRANT SELECT ON feedback_hourly TO pxstream_dashboard;
GRANT SELECT ON feedback_daily TO pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_org_events ON feedback_events
    USING organisation = getSetting('SQL_pxstream_organisation') AS permissive TO pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_org_alerts ON hotspot_alerts
    USING organisation = getSetting('SQL_pxstream_organisation') AS permissive TO pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_org_hourly ON feedback_hourly
    USING organisation = getSetting('SQL_pxstream_organisation') AS permissive TO pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_org_daily ON feedback_daily
    USING organisation = getSetting('SQL_pxstream_organisation') AS permissive TO pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_all_events ON feedback_events
    USING 1 AS permissive TO ALL EXCEPT pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_all_alerts ON hotspot_alerts
    USING 1 AS permissive TO ALL EXCEPT pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_all_hourly ON feedback_hourly
    USING 1 AS permissive TO ALL EXCEPT pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_all_daily ON feedback_daily
    USING 1 AS permissive TO ALL EXCEPT pxstream_dashboard;
