package org.deephash.compat;

import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;

import java.util.List;

/** A plugin with transport actions; Elasticsearch 9's {@code ActionHandler} lost its type parameters. */
public abstract class ActionPluginBase extends Plugin implements ActionPlugin {

    /** The plugin's transport actions. */
    protected abstract List<PluginAction<?, ?>> actions();

    @Override
    public final List<ActionHandler<? extends ActionRequest, ? extends ActionResponse>> getActions() {
        return actions().stream().<ActionHandler<? extends ActionRequest, ? extends ActionResponse>>map(ActionPluginBase::handler).toList();
    }

    private static <Q extends ActionRequest, S extends ActionResponse> ActionHandler<Q, S> handler(PluginAction<Q, S> action) {
        return new ActionHandler<>(action.type(), action.transport());
    }
}
