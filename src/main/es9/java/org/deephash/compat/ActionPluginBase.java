package org.deephash.compat;

import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.action.ActionType;
import org.elasticsearch.action.support.TransportAction;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;

import java.util.List;

/** A plugin with transport actions; Elasticsearch 9's {@code ActionHandler} lost its type parameters. */
public abstract class ActionPluginBase extends Plugin implements ActionPlugin {

    /** An action and the class that runs it. */
    public record Action<Q extends ActionRequest, S extends ActionResponse>(
        ActionType<S> type,
        Class<? extends TransportAction<Q, S>> transport
    ) {}

    /** The plugin's transport actions. */
    protected abstract List<Action<?, ?>> actions();

    @Override
    public final List<ActionHandler> getActions() {
        return actions().stream().map(action -> new ActionHandler(action.type(), action.transport())).toList();
    }
}
