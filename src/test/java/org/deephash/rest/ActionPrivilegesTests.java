package org.deephash.rest;

import org.deephash.DeepHashPlugin;
import org.deephash.query.QueryHashAction;
import org.elasticsearch.test.ESTestCase;
import org.elasticsearch.xpack.core.security.authz.privilege.ActionClusterPrivilege;
import org.elasticsearch.xpack.core.security.authz.privilege.ClusterPrivilegeResolver;
import org.elasticsearch.xpack.core.security.authz.privilege.NamedClusterPrivilege;
import org.elasticsearch.xpack.core.security.authz.privilege.SystemPrivilege;
import org.elasticsearch.xpack.core.security.support.Automatons;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * The plugin's action names against Elasticsearch security's own privilege definitions (x-pack-core of the
 * same version): what an administrator grants to whom, as the README's "Security" table says.
 */
public class ActionPrivilegesTests extends ESTestCase {

    /** Every action the plugin registers, and the least built-in cluster privilege that grants it (null: none, internal). */
    private static final Map<String, String> EXPECTED = new TreeMap<>(Map.of(
        DeepHashStatsAction.NAME, "monitor",
        GetModelsAction.NAME, "monitor",
        HashAction.NAME, "monitor",
        ReloadModelsAction.NAME, "manage",
        QueryHashAction.NAME, "internal"
    ));

    public void testEveryRegisteredActionIsListed() throws Exception {
        Set<String> registered = new TreeSet<>();
        try (DeepHashPlugin plugin = new DeepHashPlugin()) {
            plugin.getActions().forEach(h -> registered.add(h.getAction().name()));
        }
        assertEquals(EXPECTED.keySet(), registered);
    }

    public void testMonitoringActionsAreGrantedByMonitorNotByNothing() {
        for (String action : new String[] { DeepHashStatsAction.NAME, GetModelsAction.NAME, HashAction.NAME }) {
            assertTrue(action + " under monitor", grants("monitor", action));
            assertTrue(action + " under manage", grants("manage", action));
            assertTrue(action + " under all", grants("all", action));
            assertFalse(action + " must not fall under manage_security", grants("manage_security", action));
            assertFalse(action + " must not fall under monitor_ml", grants("monitor_ml", action));
        }
    }

    public void testReloadNeedsManageNotMonitor() {
        assertTrue(grants("manage", ReloadModelsAction.NAME));
        assertTrue(grants("all", ReloadModelsAction.NAME));
        assertFalse("reloading changes what the node serves: not a monitoring action", grants("monitor", ReloadModelsAction.NAME));
    }

    public void testQueryHashingRunsAsTheSystemUserNotTheSearcher() {
        // An internal: action that a user's action calls is run as the system user (security's AuthorizationUtils),
        // so a role with index read alone may search by text and picture.
        assertTrue(QueryHashAction.NAME.startsWith("internal:"));
        assertTrue(SystemPrivilege.INSTANCE.predicate().test(QueryHashAction.NAME));
        for (String privilege : new String[] { "monitor", "manage" }) {
            assertFalse(QueryHashAction.NAME + " must not need " + privilege, grants(privilege, QueryHashAction.NAME));
        }
    }

    public void testARoleCanGrantExactlyThePluginsActions() {
        // A custom role may list action patterns in "cluster"; the README suggests this one for a hashing client.
        Predicate<String> pattern = Automatons.predicate("cluster:monitor/deep_hash/*");
        assertTrue(pattern.test(HashAction.NAME));
        assertTrue(pattern.test(GetModelsAction.NAME));
        assertTrue(pattern.test(DeepHashStatsAction.NAME));
        assertFalse(pattern.test(ReloadModelsAction.NAME));
    }

    private static boolean grants(String privilegeName, String action) {
        NamedClusterPrivilege privilege = ClusterPrivilegeResolver.resolve(privilegeName);
        assertTrue(privilegeName + " is an action privilege", privilege instanceof ActionClusterPrivilege);
        ActionClusterPrivilege p = (ActionClusterPrivilege) privilege;
        Predicate<String> allowed = Automatons.predicate(p.getAllowedActionPatterns());
        Predicate<String> excluded = Automatons.predicate(p.getExcludedActionPatterns());
        return allowed.test(action) && excluded.test(action) == false;
    }
}
