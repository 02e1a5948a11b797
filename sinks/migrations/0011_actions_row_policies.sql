-- pxstream: requires=access_management
-- Tenant isolation for the actions tables, as 0005_row_policies.sql does for feedback: an action
-- is visible to each organisation in its `organisations` (a hotspot review can concern several).
-- The first statement is the one the embedded engine refuses (no access control), so the file is
-- skipped there and applied on a server by a user with access management.
CREATE ROLE IF NOT EXISTS pxstream_dashboard;
GRANT SELECT ON actions TO pxstream_dashboard;
GRANT SELECT ON action_history TO pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_org_actions ON actions
    USING has(organisations, getSetting('SQL_pxstream_organisation')) AS permissive TO pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_org_action_history ON action_history
    USING has(organisations, getSetting('SQL_pxstream_organisation')) AS permissive TO pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_all_actions ON actions
    USING 1 AS permissive TO ALL EXCEPT pxstream_dashboard;
CREATE ROW POLICY IF NOT EXISTS pxstream_all_action_history ON action_history
    USING 1 AS permissive TO ALL EXCEPT pxstream_dashboard;
