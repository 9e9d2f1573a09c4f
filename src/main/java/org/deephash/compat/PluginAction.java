package org.deephash.compat;

import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.action.ActionType;
import org.elasticsearch.action.support.TransportAction;

/** A transport action of the plugin and the class that runs it; {@link ActionPluginBase} registers them on either line. */
public record PluginAction<Q extends ActionRequest, S extends ActionResponse>(
    ActionType<S> type,
    Class<? extends TransportAction<Q, S>> transport
) {}
