-- pxstream: requires=access_management
-- An organisation's dashboard user sees every alert its events counted toward (docs/tenancy.md),
-- not only those of rules that group by organisation: `organisations` holds the group's own
-- organisation too, so this policy shows all that 0005's did and more. Replaces 0005's
-- pxstream_org_alerts; the other policies and grants of 0005 stay as they are.
CREATE ROW POLICY OR REPLACE pxstream_org_alerts ON hotspot_alerts
    USING has(organisations, getSetting('SQL_pxstream_organisation')) AS permissive TO pxstream_dashboard;
